/**
 * {@linkcode initProject}: a researcher's own project folder for a vault,
 * outside this clone, whose `deno task …` commands run this clone's tasks.
 *
 * @module
 */
import { join, resolve } from "../_deps/path.ts";
import { InvalidInputError } from "../errors.ts";
import { exists } from "../_fs.ts";

/** This clone's root (the folder of its deno.json and mod.ts). */
export const CLONE_ROOT: string = resolve(import.meta.dirname!, "..", "..");

/**
 * Tasks of this clone's deno.json that are about the clone itself (its
 * tests, benches, demo), not a vault: not copied into a project.
 */
const CLONE_ONLY_TASKS = new Set([
  "test",
  "ok",
  "cycles",
  "bench",
  "stress",
  "demo",
  "init",
]);

/** Lines every project's `.gitignore` gets (added to one that exists). */
export const PROJECT_GITIGNORE: readonly string[] = [
  "# Specimen Vault: the catalog and its side files are rebuilt by deno task index",
  "vault.duckdb",
  "vault.duckdb.*",
  "# lock files of manifests and metric logs, and temp files of atomic writes",
  ".lock",
  ".tmp-*",
  "# results are large: keep the vault itself (rsync, backups) as the record,",
  "# or delete these two lines to commit them",
  "/specimens/*/strata/*",
  "!/specimens/*/strata/.gitkeep",
  "/specimens/*/runs/",
];

/** Options for {@linkcode initProject}. */
export interface InitProjectOptions {
  /** The project folder: created, or an existing one without a deno.json. */
  dir: string;
  /** The clone whose tasks and library the project uses. @default CLONE_ROOT */
  clone?: string;
}

/** What {@linkcode initProject} wrote. */
export interface InitProjectResult {
  /** The project folder (absolute). */
  dir: string;
  /** The files and folders written or extended, relative to `dir`. */
  written: string[];
  /** The tasks the project's deno.json has. */
  tasks: string[];
}

/**
 * Makes `dir` a project folder for a vault: `specimens/`, a `deno.json`
 * whose tasks run this clone's `tasks/*.ts` by absolute path with the same
 * permissions (every task but the clone's own tests, benches and demo) and
 * whose imports map `specimen-vault` to this clone's `mod.ts`, a
 * `.gitignore` (the catalog, lock and temp files, results) and a short
 * `README.md` (kept when one exists). Every `deno task …` then works from
 * `dir`, and protocols there import `specimen-vault`.
 *
 * Needs `--allow-read` and `--allow-write` on `dir` and the clone.
 *
 * @param options The folder and the clone.
 * @returns What was written.
 * @throws {InvalidInputError} When `dir` has a `deno.json` or `deno.jsonc`
 *   already (merge the tasks by hand), or is a file, or is inside the clone.
 *
 * @example
 * ```ts
 * import { initProject } from "./init_project.ts";
 * const dir = await Deno.makeTempDir();
 * const { tasks } = await initProject({ dir: `${dir}/my_vault` });
 * console.assert(tasks.includes("run") && !tasks.includes("test"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function initProject(
  options: InitProjectOptions,
): Promise<InitProjectResult> {
  const dir = resolve(options.dir);
  const clone = resolve(options.clone ?? CLONE_ROOT);
  if (dir === clone || dir.startsWith(`${clone}/`)) {
    throw new InvalidInputError(
      `Cannot init ${dir}: it is inside the tool's clone ${clone}; give a folder outside it, e.g. deno task init ~/research/my_vault`,
    );
  }
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new InvalidInputError(
        `Cannot init ${dir}: it is a file; give a folder (new or existing)`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const name of ["deno.json", "deno.jsonc"]) {
    if (await exists(join(dir, name))) {
      throw new InvalidInputError(
        `Cannot init ${dir}: it has a ${name} already, which this would replace. Add the tasks by hand (see deno task init --help), or init another folder`,
      );
    }
  }
  const config = JSON.parse(
    await Deno.readTextFile(join(clone, "deno.json")),
  ) as { tasks: Record<string, { description?: string; command: string }> };
  const tasks: Record<string, { description?: string; command: string }> = {};
  for (const [name, task] of Object.entries(config.tasks)) {
    if (CLONE_ONLY_TASKS.has(name)) continue;
    const m = /^(deno run .*?)tasks\/([a-z_]+\.ts)(.*)$/.exec(task.command);
    if (!m || m[1].includes("&&")) continue;
    tasks[name] = {
      ...(task.description ? { description: task.description } : {}),
      command: `${m[1]}${quote(join(clone, "tasks", m[2]))}${m[3]}`,
    };
  }
  const project = {
    imports: { "specimen-vault": join(clone, "mod.ts") },
    nodeModulesDir: "none",
    tasks,
    fmt: { exclude: ["specimens/*/strata/", ".tmp-*"] },
    lint: { exclude: ["specimens/*/strata/", ".tmp-*"] },
  };
  const written: string[] = [];
  await Deno.mkdir(join(dir, "specimens"), { recursive: true });
  written.push("specimens/");
  await Deno.writeTextFile(
    join(dir, "deno.json"),
    JSON.stringify(project, null, 2) + "\n",
    { createNew: true },
  );
  written.push("deno.json");
  if (await extendGitignore(join(dir, ".gitignore"))) {
    written.push(".gitignore");
  }
  if (!(await exists(join(dir, "README.md")))) {
    await Deno.writeTextFile(join(dir, "README.md"), readme(clone));
    written.push("README.md");
  }
  return { dir, written, tasks: Object.keys(tasks) };
}

/** A path as one word of a `deno task` command line. */
function quote(path: string): string {
  if (/^[A-Za-z0-9_./-]+$/.test(path)) return path;
  if (path.includes("'")) {
    throw new InvalidInputError(
      `The clone's path ${path} holds a quote, which a deno task command cannot carry: move the clone`,
    );
  }
  return `'${path}'`;
}

/** Adds the missing lines of {@linkcode PROJECT_GITIGNORE}; whether it wrote. */
async function extendGitignore(path: string): Promise<boolean> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const have = new Set(text.split("\n").map((l) => l.trim()));
  const missing = PROJECT_GITIGNORE.filter((l) =>
    l.startsWith("#") ? false : !have.has(l)
  );
  if (missing.length === 0) return false;
  const wanted = PROJECT_GITIGNORE.filter((l) =>
    l.startsWith("#") || !have.has(l)
  );
  const lines = text === "" ? wanted : ["", ...wanted];
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  await Deno.writeTextFile(path, text + sep + lines.join("\n") + "\n");
  return true;
}

function readme(clone: string): string {
  return `# My experiments

A [Specimen Vault](${clone}/README.md): each experiment is a folder under
\`specimens/<id>/\`, written once (manifest, protocol, field notes, results).
The tasks in \`deno.json\` run the tool's clone at \`${clone}\`; protocols
import the library as \`specimen-vault\`.

\`\`\`sh
deno task create --id 2026_12_07_first --domain training --method fine_tuning \\
  --template python --param lr=0.1        # or without --template: an empty protocol.ts
deno task run 2026_12_07_first             # records, logs and seals the run
deno task create --from 2026_12_07_first --sweep lr=0.05,0.02 --prefix 2026_12_07_lr
deno task run --all-pending                # every specimen never run
deno task index                            # the catalog vault.duckdb
deno task query "SELECT specimen_id, status FROM catalog"
deno task serve                            # the dashboard on http://127.0.0.1:8765/
\`\`\`

Every task takes \`--help\`. Python: \`SPECIMEN_PYTHON=/path/to/python\` chooses the
interpreter (else \`/usr/bin/python3\`, else \`python3\` on PATH).
\`vault.duckdb\` is rebuilt by \`deno task index\`; \`.gitignore\` leaves it, lock and
temp files and results (\`strata/\`, \`runs/\`) out of git.
`;
}
