/**
 * Installs what the test suite needs beyond Deno and npm: Debian's Chromium
 * for the dashboard's browser test. Runs before `deno task test`, so the
 * README's one test command works on a machine with only Node.js and npm.
 *
 * @module
 */
import { parseTaskArgs, runMain } from "../lib/_cli.ts";

/** The task's help text. */
export const HELP =
  `Install what the tests need beyond Deno: Chromium (Debian's package) for the
dashboard's browser test, when it is missing and apt-get can install it.

Usage:
  deno run -A tasks/setup_tests.ts

Environment: CHROMIUM=path uses that browser instead (nothing is installed).
Exit codes: 0 ready, or not installable here (the browser test then says how
to fix it); 1 apt-get failed.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { help } = parseTaskArgs(args, {});
  if (help) {
    console.log(HELP);
    return 0;
  }
  const chosen = Deno.env.get("CHROMIUM");
  const browser = chosen ?? "/usr/bin/chromium";
  if (await isFile(browser)) return 0;
  if (chosen || Deno.uid() !== 0 || !(await isFile("/usr/bin/apt-get"))) {
    console.error(
      `warning: no Chromium at ${browser} and no way to install it here: install it (apt-get install -y chromium) or set CHROMIUM; the browser test will fail until then`,
    );
    return 0;
  }
  console.error(
    "Installing Chromium for the browser test (apt-get install -y chromium)...",
  );
  for (
    const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]
  ) {
    const { code } = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(
        `error: apt-get ${args.join(" ")} exited with code ${code}`,
      );
      return 1;
    }
  }
  return 0;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain(main);
