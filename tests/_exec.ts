/**
 * Fixtures and process checks for the tests of `storage.exec` under
 * `deno task run`: a specimen whose protocol runs a Python script, the
 * arguments of a real run, and whether a pid still lives.
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { PYTHON } from "./_python.ts";
import { ROOT, runDeno, type RunResult, taskFlags } from "./utils.ts";

const RUN_FLAGS = await taskFlags("run");

/** `deno run` arguments of `deno task run --vault <vault> <id>`, with its deno.json flags. */
export const runTaskArgs = (vault: string, id: string): string[] => [
  "run",
  ...RUN_FLAGS,
  join(ROOT, "tasks", "run.ts"),
  "--vault",
  vault,
  id,
];

/** Runs `deno task run --vault <vault> <id>` as a subprocess. */
export function runSpecimen(vault: string, id: string): Promise<RunResult> {
  return runDeno(runTaskArgs(vault, id));
}

/**
 * A specimen whose protocol runs `train.py` (`script`, written beside it)
 * through storage.exec and logs the rows (and, with `logLeftBehind`, what
 * the child left behind). `files` are written beside it too.
 */
export async function pySpecimen(
  vault: string,
  id: string,
  script: string,
  options: {
    execOptions?: string;
    files?: Record<string, string>;
    logLeftBehind?: boolean;
  } = {},
): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  for (const [name, text] of Object.entries(options.files ?? {})) {
    await Deno.writeTextFile(join(dir, name), text);
  }
  await Deno.writeTextFile(join(dir, "train.py"), script);
  const leftBehind = options.logLeftBehind
    ? ", JSON.stringify(r.leftBehind)"
    : "";
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  const r = await storage.exec([${JSON.stringify(PYTHON)}, "train.py"], ${
      options.execOptions ?? "{}"
    });
  console.log("exec returned", JSON.stringify(r.rows)${leftBehind});
});
`,
  );
  return dir;
}

/** Whether process `pid` runs (a zombie counts as ended). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The pid in `path` once it is whole (ends with a newline), else undefined. */
export async function readPid(path: string): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(path);
    return text.endsWith("\n") ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
