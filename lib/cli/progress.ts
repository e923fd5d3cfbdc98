/**
 * Private helpers for task output: byte counts for people, and a progress
 * line on stderr that is drawn only when stderr is a terminal (never in
 * logs or pipes), at most ten times a second.
 *
 * @module
 */
import { stderrIsTerminal } from "./cli.ts";

/**
 * Formats a byte count with SI units: `"512 B"`, `"190.6 kB"`, `"1.07 GB"`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./progress.ts";
 * console.assert(formatBytes(1_500_000) === "1.50 MB");
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v >= 100 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** A single, rewritten status line on stderr (TTY only). */
export class ProgressLine {
  #enabled: boolean;
  #last = 0;
  #shown = false;
  #encoder = new TextEncoder();

  /** `enabled` defaults to whether stderr is a terminal. */
  constructor(enabled: boolean = stderrIsTerminal()) {
    this.#enabled = enabled;
  }

  /** Draws `text` (computed lazily) unless drawn less than 100 ms ago. */
  update(text: () => string): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    const cols = (() => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 100;
      }
    })();
    Deno.stderr.writeSync(
      this.#encoder.encode(`\r\x1b[2K${text().slice(0, cols - 1)}`),
    );
    this.#shown = true;
  }

  /** Erases the line, if one was drawn. */
  clear(): void {
    if (!this.#shown) return;
    Deno.stderr.writeSync(this.#encoder.encode("\r\x1b[2K"));
    this.#shown = false;
  }
}
