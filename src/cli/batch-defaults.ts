/**
 * Rows per chunk when --chunk-size is not given, measured with bench/batch.mjs --chunk-sizes
 * (1M NDJSON rows, 2 cores; see the report in bench/batch.mjs): throughput rises steeply up to
 * about 1000 rows (IPC and scheduling per chunk amortized) and is flat within noise from 1000 to
 * 10000, while a bigger chunk holds more memory and a failed chunk drops more rows. Rows can be
 * large, so a default chunk also ends at DEFAULT_CHUNK_BYTES.
 */
export const DEFAULT_CHUNK_ROWS = 2000
export const DEFAULT_CHUNK_BYTES = 1 << 20
