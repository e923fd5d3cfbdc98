/**
 * A task run under `/usr/bin/time -f %M`, for tests of a memory bound: the
 * peak RSS of the real task process, never a guess from inside the test.
 */
import { join } from "../lib/_deps.ts";
import { assert, ROOT, taskFlags } from "./utils.ts";

/** Whether `/usr/bin/time` is on this machine (tests that need it skip without). */
export const HAS_TIME: boolean = await Deno.stat("/usr/bin/time").then(
  () => true,
  () => false,
);

/** Exit code, output and peak RSS of a task run under `/usr/bin/time`. */
export interface MeasuredRun {
  code: number;
  stdout: string;
  /** The task's own stderr, without the line `/usr/bin/time` adds. */
  stderr: string;
  rssMb: number;
}

/**
 * `deno task <name> …` (its deno.json flags) under `/usr/bin/time`: exit code,
 * output, peak RSS in MB.
 */
export async function taskMeasured(
  name: string,
  args: string[],
): Promise<MeasuredRun> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "MAXRSS %M",
      Deno.execPath(),
      "run",
      ...await taskFlags(name),
      join(ROOT, "tasks", `${name}.ts`),
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const m = /MAXRSS (\d+)\s*$/.exec(stderr);
  assert(m, stderr);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: stderr.slice(0, m.index),
    rssMb: Number(m[1]) / 1024,
  };
}
