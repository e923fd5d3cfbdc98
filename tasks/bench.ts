/**
 * `deno task bench`: runs every benchmark under `tests/_tools/bench/` (each in its
 * own process, one after another, so they do not compete for the 2 cores)
 * and prints their figures: medians beside a same-run reference.
 *
 * @module
 */
import { join, resolve } from "../lib/_deps.ts";
import { parseTaskArgs, runMain } from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";

const BENCH_DIR = resolve(
  import.meta.dirname!,
  "..",
  "tests",
  "_tools",
  "bench",
);

/** The benchmark areas, in the order they run. */
export const AREAS = [
  "metrics",
  "tensors",
  "catalog",
  "logger",
  "verify",
  "dashboard",
  "importers",
  "params",
  "bridge",
  "adopt",
  "engine",
  "remote",
  "wide",
];

/** The task's help text. */
export const HELP =
  `Print every performance figure, each a median beside a reference measured in
the same run (as a ratio) and the goal the issue names.

Usage:
  deno task bench [AREA...]

Areas: ${AREAS.join(", ")} (default: all that exist)

Exit codes: 0 all benchmarks ran (goals missed are marked MISSED, not failures);
1 a benchmark crashed; 2 unknown area.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { positionals, help } = parseTaskArgs(args, {}, {
    allowPositionals: true,
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const unknown = positionals.filter((a) => !AREAS.includes(a));
  if (unknown.length) {
    throw new InvalidInputError(
      `Unknown benchmark area ${JSON.stringify(unknown[0])}: valid areas are ${
        AREAS.join(", ")
      }`,
    );
  }
  const areas = positionals.length ? positionals : AREAS;
  let failed = 0;
  for (const area of areas) {
    const file = join(BENCH_DIR, `${area}_bench.ts`);
    try {
      await Deno.stat(file);
    } catch {
      if (positionals.length) {
        throw new InvalidInputError(`No benchmark for "${area}" yet (${file})`);
      }
      continue;
    }
    console.log(`\n## ${area}`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", file],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(`error: the ${area} benchmark exited with code ${code}`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) await runMain(main);
