/**
 * {@linkcode findPython}: a Python 3 interpreter that imports the modules a
 * script needs, among the usual places, without installing anything.
 *
 * @module
 */

/** Options for {@linkcode findPython}. */
export interface FindPythonOptions {
  /**
   * Modules the interpreter must import, e.g. `["numpy", "sklearn"]`.
   * @default []
   */
  imports?: string[];
  /**
   * Interpreters to try, in order: a path or a name looked up on PATH.
   * @default [$SPECIMEN_PYTHON, "/usr/bin/python3", "python3"]
   */
  candidates?: string[];
}

/** What {@linkcode findPython} found. */
export type FoundPython =
  | { found: true; python: string; version: string }
  | { found: false; tried: { python: string; reason: string }[] };

/**
 * The first interpreter of `candidates` that runs and imports every module
 * of `imports`, with its `sys.version`; or, when none does, what was tried
 * and why each one failed. `$SPECIMEN_PYTHON` comes first when set (and
 * readable: without `--allow-env` it is skipped). Debian's
 * `/usr/bin/python3` comes before the `python3` first on PATH, which may be
 * another interpreter without Debian's packages.
 *
 * Needs `--allow-run` for the candidates.
 *
 * @param options The modules needed and the interpreters to try.
 * @returns The interpreter, or why there is none.
 * @example
 * ```ts
 * import { findPython } from "./find_python.ts";
 * const py = await findPython({ imports: ["json"] });
 * if (py.found) console.log(py.python, py.version);
 * else console.log(py.tried.map((t) => `${t.python}: ${t.reason}`).join("\n"));
 * ```
 */
export async function findPython(
  options: FindPythonOptions = {},
): Promise<FoundPython> {
  const imports = options.imports ?? [];
  for (const m of imports) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(m)) {
      throw new TypeError(
        `Invalid module name ${
          JSON.stringify(m)
        }: give a Python module name such as "sklearn"`,
      );
    }
  }
  const candidates = options.candidates ?? defaultCandidates();
  const tried: { python: string; reason: string }[] = [];
  const probe = [
    ...imports.map((m) => `import ${m}`),
    "import sys",
    "print(sys.version.split()[0])",
  ].join("; ");
  for (const python of candidates) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(python, {
        args: ["-c", probe],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      tried.push({
        python,
        reason: e instanceof Deno.errors.NotFound
          ? "not found"
          : (e as Error).message,
      });
      continue;
    }
    const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
    if (out.success) {
      return { found: true, python, version: text(out.stdout) };
    }
    tried.push({
      python,
      reason: text(out.stderr).split("\n").at(-1) || `exit code ${out.code}`,
    });
  }
  return { found: false, tried };
}

function defaultCandidates(): string[] {
  const list = ["/usr/bin/python3", "python3"];
  try {
    const state = Deno.permissions.querySync({
      name: "env",
      variable: "SPECIMEN_PYTHON",
    }).state;
    const chosen = state === "granted"
      ? Deno.env.get("SPECIMEN_PYTHON")
      : undefined;
    if (chosen) list.unshift(chosen);
  } catch { /* no permission API: the defaults */ }
  return list;
}
