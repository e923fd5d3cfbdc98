/**
 * `deno task import` as a subprocess, and copies of the fixtures other tools
 * wrote, for the importer tests.
 */
import { join } from "../lib/_deps.ts";
import { ROOT, runDeno, type RunResult, taskFlags } from "./utils.ts";

const FLAGS = await taskFlags("import");

/** Runs `deno task import …args` (its deno.json flags) as a subprocess. */
export function importCli(args: string[]): Promise<RunResult> {
  return runDeno(["run", ...FLAGS, join(ROOT, "tasks", "import.ts"), ...args]);
}

/** Copies the folder `src` to `dst`, recursively. */
export async function copyTree(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isDirectory) await copyTree(join(src, e.name), join(dst, e.name));
    else await Deno.copyFile(join(src, e.name), join(dst, e.name));
  }
}
