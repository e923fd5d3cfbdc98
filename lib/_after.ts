/**
 * A timer for the query client's cold path: `setTimeout`'s first call
 * costs a fresh Deno process 25 to 50 ms (measured: 50.9 ms for one
 * `setTimeout`, 0.33 ms for one `AbortSignal.timeout`), more than the whole
 * warm query. `AbortSignal.timeout` does not keep the process alive, which
 * is right for a deadline on an operation that does.
 *
 * @module
 */

/**
 * Calls `fn` after `ms` milliseconds unless the returned function is called
 * first.
 *
 * @example
 * ```ts
 * import { after } from "./_after.ts";
 * let fired = false;
 * const cancel = after(1, () => fired = true);
 * cancel();
 * await new Promise((r) => setTimeout(r, 20));
 * console.assert(!fired);
 * ```
 */
export function after(ms: number, fn: () => void): () => void {
  let live = true;
  AbortSignal.timeout(ms).addEventListener("abort", () => {
    if (live) fn();
  }, { once: true });
  return () => {
    live = false;
  };
}
