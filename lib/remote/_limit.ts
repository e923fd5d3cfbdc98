/**
 * A bound on concurrent work: `limiter(n)` returns a function that runs at
 * most `n` of the tasks given to it at once, in order.
 *
 * @module
 */

/** Runs at most `n` tasks at once; a finished task hands its slot on. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
