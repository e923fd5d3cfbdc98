/**
 * Reads Lightning `CSVLogger` folders (`lightning_logs/version_N/` with
 * `metrics.csv` and `hparams.yaml`).
 *
 * @module
 */
import { CorruptFileError, NotFoundError } from "../errors.ts";
import { join, relative, sep } from "./_deps.ts";
import { toParamValue } from "./_param_values.ts";
import { parsePythonYaml } from "./_yaml_python.ts";
import {
  emptyRun,
  type ImportedRun,
  type ParamValue,
  readSourceFile,
} from "./model.ts";
import { SourceTree } from "./_source_tree.ts";
import { parseCsvRows, type Row, rowsToTable } from "./table.ts";

/** Columns that index rows rather than measure something. */
const INDEX_COLUMNS = new Set(["step", "epoch"]);

/**
 * Finds every folder under `root` (or `root` itself) holding `metrics.csv`.
 * Needs read permission.
 *
 * @example
 * ```ts
 * import { findLightningRuns } from "./lightning.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert((await findLightningRuns(dir)).length === 0);
 * await Deno.remove(dir);
 * ```
 */
export async function findLightningRuns(root: string): Promise<string[]> {
  return (await findRuns(root)).dirs;
}

/** The run folders under `root`, and the tree they were found in. */
async function findRuns(root: string) {
  const tree = await SourceTree.open(root);
  const dirs: string[] = [];
  await tree.walkDirs(root, (dir, { files }) => {
    if (files.includes("metrics.csv")) dirs.push(dir);
  });
  return { tree, dirs };
}

/**
 * Splits metric columns into groups that never share a row: Lightning writes
 * per-step and per-epoch metrics on separate lines, so each group becomes its
 * own table. `step` and `epoch` belong to every group.
 */
function columnGroups(header: string[], rows: Row[]): string[][] {
  const metrics = header.filter((h) => !INDEX_COLUMNS.has(h));
  const parent = new Map(metrics.map((m) => [m, m]));
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const row of rows) {
    const present = metrics.filter((m) => row[m] !== null);
    for (let i = 1; i < present.length; i++) {
      parent.set(find(present[i]), find(present[0]));
    }
  }
  const groups = new Map<string, string[]>();
  for (const m of metrics) {
    const g = find(m);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(m);
  }
  return [...groups.values()];
}

function groupName(cols: string[], taken: Set<string>, i: number): string {
  const prefixes = new Set(cols.map((c) => c.split(/[_/]/)[0]));
  let name = prefixes.size === 1 && cols.every((c) => /[_/]/.test(c))
    ? [...prefixes][0]
    : `metrics_${i + 1}`;
  if (taken.has(name)) name = `${name}_${i + 1}`;
  taken.add(name);
  return name;
}

/**
 * Reads every `CSVLogger` run under `root`. `metrics.csv` becomes one table
 * (`metrics`), or one per group of columns that never share a row (per-step
 * and per-epoch metrics: named by their common prefix, e.g. `train`, `val`).
 * `hparams.yaml` becomes the params. Needs read permission.
 *
 * @param root A `lightning_logs` folder, a `version_N` folder, or above.
 * @returns One run per `version_N` folder.
 * @throws {NotFoundError} No `metrics.csv` under `root`.
 * @throws {CorruptFileError} A ragged CSV row, a row without a step, YAML
 * that does not parse.
 * @example
 * ```ts
 * import { importLightning } from "./lightning.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/metrics.csv`, "epoch,step,loss\n0,0,1.5\n");
 * const [run] = await importLightning(dir);
 * console.assert(run.tables[0].name === "metrics");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function importLightning(root: string): Promise<ImportedRun[]> {
  const { tree, dirs } = await findRuns(root);
  if (dirs.length === 0) {
    throw new NotFoundError(
      `No Lightning CSVLogger run under "${root}": no metrics.csv in it or its subfolders; point the import at lightning_logs/ or a version_N folder`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const dir of dirs) {
    const run = await readRun(root, dir, tree);
    run.warnings.push(...tree.warnings.splice(0));
    runs.push(run);
  }
  return runs;
}

async function readRun(
  root: string,
  dir: string,
  tree: SourceTree,
): Promise<ImportedRun> {
  const id = relative(root, dir).split(sep).join("/") ||
    dir.split(sep).filter(Boolean).pop()!;
  const run = emptyRun("lightning", "lightning", dir, id, id);
  const csv = await readSourceFile(
    join(dir, "metrics.csv"),
    "metrics.csv",
    tree,
  );
  run.sourceFiles.push(csv.file);
  const file = join(id, "metrics.csv");
  const { header, rows } = parseCsvRows(
    new TextDecoder().decode(csv.bytes),
    file,
    { raw: true },
  );
  const opts = { textCells: true, warn: (m: string) => run.warnings.push(m) };
  if (!header.includes("step")) {
    throw new CorruptFileError(
      `Cannot read "${file}": it has no "step" column (its columns: ${
        header.join(", ")
      }); is it a CSVLogger metrics.csv? For another CSV use the csv importer with --step-column`,
    );
  }
  const groups = columnGroups(header, rows);
  const hasEpoch = header.includes("epoch");
  if (groups.length <= 1) {
    run.tables.push(
      rowsToTable(
        "metrics",
        rows,
        header.filter((h) => h !== "step"),
        "step",
        file,
        opts,
      ),
    );
  } else {
    const taken = new Set<string>();
    groups.forEach((cols, i) => {
      const mine = rows.filter((r) => cols.some((c) => r[c] !== null));
      const keep = hasEpoch ? ["epoch", ...cols] : cols;
      run.tables.push(
        rowsToTable(groupName(cols, taken, i), mine, keep, "step", file, opts),
      );
    });
  }
  try {
    const yaml = await readSourceFile(
      join(dir, "hparams.yaml"),
      "hparams.yaml",
      tree,
    );
    run.sourceFiles.push(yaml.file);
    let parsed: unknown;
    try {
      const read = parsePythonYaml(new TextDecoder().decode(yaml.bytes));
      parsed = read.value;
      for (const w of read.warnings) run.warnings.push(`hparams.yaml: ${w}`);
    } catch (e) {
      throw new CorruptFileError(
        `Cannot read "${join(id, "hparams.yaml")}": ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (
      parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ) {
      run.params = toParamValue(
        parsed,
        "",
        (m) => run.warnings.push(`hparams.yaml: ${m}`),
      ) as Record<string, ParamValue>;
    } else if (parsed !== null && parsed !== undefined) {
      run.params = {
        hparams: toParamValue(
          parsed,
          "hparams",
          (m) => run.warnings.push(`hparams.yaml: ${m}`),
        ),
      };
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  run.sourceInfo = { columns: header, rows: rows.length };
  return run;
}
