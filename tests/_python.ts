/**
 * Debian's Python for the bridge tests: `/usr/bin/python3` with numpy
 * (installed by `tasks/setup_tests.ts`). The `python3` first on PATH may be
 * another interpreter without numpy, so it is called by path.
 *
 * @module
 */

/** The interpreter the bridge tests run. */
export const PYTHON = "/usr/bin/python3";

let numpy: Promise<boolean> | undefined;

/** Whether {@linkcode PYTHON} exists and imports numpy (checked once). */
export function hasNumpy(): Promise<boolean> {
  numpy ??= new Deno.Command(PYTHON, {
    args: ["-c", "import numpy"],
    stdout: "null",
    stderr: "null",
  }).output().then((o) => o.success, () => false);
  return numpy;
}

/** Why numpy tests are skipped, printed once by the caller. */
export const NO_NUMPY =
  `skipped: ${PYTHON} with numpy is missing: run "deno task test" as root (tasks/setup_tests.ts installs python3-numpy) or apt-get install -y python3-numpy`;

/** Runs a Python script with arguments; throws with its stderr on failure. */
export async function runPython(
  script: string,
  ...args: string[]
): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${PYTHON} failed (code ${out.code}): ${text.decode(out.stderr)}`,
    );
  }
  return text.decode(out.stdout);
}
