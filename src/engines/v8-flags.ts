/*
 * What puts the process's own V8 flags back (wasm-flags.ts sets one for QuickJS), apart from
 * wasm-flags.ts itself: tag.ts calls restoreV8Flags() before every v8 engine tag, and importing
 * it must not import node:v8 (version-tag.ts says why).
 */
let restore: (() => void) | undefined

/** Registers how to undo the flags just set (one undo at a time). */
export function onRestore(undo: () => void): void {
  restore = undo
}

/** Back to the process's own V8 flags (a module already compiled keeps its inlining). */
export function restoreV8Flags(): void {
  restore?.()
  restore = undefined
}
