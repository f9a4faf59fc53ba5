/** How long one named step of a procedure took (cacache's verify reports its runTime the same way). */
export interface StepTiming {
  step: string
  ms: number
}

/**
 * Runs a procedure's steps in order on one context and times each. A step's name is its
 * function's name, so the list that defines the order (VERIFY_STEPS, GC_STEPS) also names
 * what `--timings` reports.
 */
export async function runSteps<C>(steps: ReadonlyArray<(ctx: C) => Promise<void>>, ctx: C): Promise<StepTiming[]> {
  const timings: StepTiming[] = []
  for (const step of steps) {
    const t0 = performance.now()
    await step(ctx)
    timings.push({step: step.name, ms: Math.round((performance.now() - t0) * 10) / 10})
  }
  return timings
}
