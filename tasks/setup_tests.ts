/**
 * Installs what the test suite needs beyond Deno and npm: Debian's Chromium
 * for the dashboard's browser test, numpy and scikit-learn for the Python
 * bridge, and OpenStack Swift for the remotes. Runs before `deno task test`, so the
 * README's one test command works on a machine with only Node.js and npm.
 *
 * @module
 */
import { parseTaskArgs, runMain } from "../lib/cli/cli.ts";

/** The task's help text. */
export const HELP =
  `Install what the tests need beyond Deno: Chromium (Debian's package) for the
dashboard's browser test, numpy and scikit-learn for Debian's
/usr/bin/python3 (the Python bridge's tests), and OpenStack Swift with
memcached (the S3 server of the remote tests), when missing and apt-get can
install them.

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
  const wanted = [...(await isFile(browser) ? [] : ["chromium"])];
  // Debian's python3 modules, looked for as files (no --allow-run needed).
  for (const [pkg, module] of PYTHON_PACKAGES) {
    if (!(await isFile(`/usr/lib/python3/dist-packages/${module}`))) {
      wanted.push(pkg);
    }
  }
  for (const [pkg, file] of SWIFT_PACKAGES) {
    if (!(await isFile(file))) wanted.push(pkg);
  }
  if (wanted.length === 0) return 0;
  if (
    (chosen && wanted.includes("chromium")) || Deno.uid() !== 0 ||
    !(await isFile("/usr/bin/apt-get"))
  ) {
    console.error(
      `warning: ${
        wanted.join(", ")
      } missing and no way to install them here: install them (apt-get install -y ${
        wanted.join(" ")
      }), or set CHROMIUM for the browser; the browser test and the remote tests fail and the Python bridge tests are skipped until then`,
    );
    return 0;
  }
  console.error(`Installing ${wanted.join(", ")} for the tests (apt-get)...`);
  const python = wanted.filter((p) => p !== "chromium");
  const steps = [
    ["update", "-qq"],
    ...(python.length < wanted.length
      ? [["install", "-y", "-qq", "chromium"]]
      : []),
    ...(python.length
      ? [["install", "-y", "-qq", "--no-install-recommends", ...python]]
      : []),
  ];
  // Installed, not started: a policy-rc.d that says no to every daemon.
  const policy = "/usr/sbin/policy-rc.d";
  const noDaemons = wanted.includes("memcached") && !(await isFile(policy));
  if (noDaemons) {
    await Deno.writeTextFile(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  }
  try {
    return await aptGet(steps);
  } finally {
    if (noDaemons) await Deno.remove(policy);
  }
}

async function aptGet(steps: string[][]): Promise<number> {
  for (const args of steps) {
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

/** Debian packages of the S3 test server (tests/_tools/s3/), and a file each installs. */
const SWIFT_PACKAGES = [
  ["swift", "/usr/bin/swift-config"],
  ["swift-proxy", "/usr/bin/swift-proxy-server"],
  ["swift-account", "/usr/bin/swift-account-server"],
  ["swift-container", "/usr/bin/swift-container-server"],
  ["swift-object", "/usr/bin/swift-object-server"],
  ["python3-swift", "/usr/lib/python3/dist-packages/swift/__init__.py"],
  ["memcached", "/usr/bin/memcached"],
];

/** Debian packages for `/usr/bin/python3`, and a file each one installs. */
const PYTHON_PACKAGES = [
  ["python3-numpy", "numpy/__init__.py"],
  ["python3-sklearn", "sklearn/__init__.py"],
];

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain(main);
