/**
 * Whether the process recording a run still lives: the one check behind
 * "this specimen is being run right now" (`deno task run`'s refusal, and
 * curating's).
 *
 * @module
 */
import { killProcess } from "../_deps.ts";

/**
 * Whether process `pid` on `hostname` is running (signal 0 only checks that
 * it exists): `false` when it is gone, `true` when it runs (or exists but
 * belongs to another user), `undefined` when this process cannot tell
 * (another host, no hostname recorded, or no `--allow-run` /
 * `--allow-sys=hostname`).
 *
 * @example
 * ```ts
 * import { recorderAlive } from "./run_alive.ts";
 * console.assert(recorderAlive({ pid: Deno.pid, hostname: null }) === undefined);
 * ```
 */
export function recorderAlive(
  run: { pid: number; hostname?: string | null },
): boolean | undefined {
  try {
    if (run.hostname == null || run.hostname !== Deno.hostname()) {
      return undefined;
    }
    killProcess(run.pid, 0);
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
    return undefined;
  }
}
