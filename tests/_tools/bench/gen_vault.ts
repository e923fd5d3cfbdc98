/**
 * Generates a synthetic vault fast: `specimens × steps` metric rows written
 * by one DuckDB `COPY ... PARTITION_BY` (one Parquet file per specimen), then
 * moved into `specimens/<id>/strata/metrics.parquet`, each with a manifest
 * like the ones `createSpecimen` writes. Used by the catalog benchmark (10,000
 * specimens) and by tests (a few hundred).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { openDatabase } from "../../../lib/duckdb/duckdb.ts";
import {
  encodeManifest,
  type Manifest,
} from "../../../lib/specimen/manifest.ts";
import type { Params, ParamValue } from "../../../lib/specimen/params.ts";
import { TAXONOMY } from "../../../lib/specimen/taxonomy.ts";

/** Options of {@linkcode generateVault}. */
export interface GenerateOptions {
  /** How many specimens. */
  specimens: number;
  /** Metric rows per specimen (`step` 0 … steps-1, `loss`, `accuracy`). */
  steps: number;
  /** Id prefix; ids are `<prefix><6-digit number>`. @default "gen_" */
  prefix?: string;
  /** Number of the first specimen (to add more to an existing vault). @default 0 */
  first?: number;
  /** Params per specimen (see {@linkcode generatedParams}); 0 for none. @default 0 */
  params?: number;
}

/** The taxonomy pairs, cycled through by the generated specimens. */
const PAIRS: [string, string][] = Object.entries(TAXONOMY).flatMap((
  [domain, methods],
) => methods.map((method): [string, string] => [domain, method]));

/** The id of generated specimen number `n`. */
export function generatedId(n: number, prefix = "gen_"): string {
  return `${prefix}${String(n).padStart(6, "0")}`;
}

const OPTIMIZERS = ["adam", "adamw", "sgd", "lion"];

/**
 * `count` params of generated specimen `n`: `lr` (one of 1e-4, 3e-4, 1e-3,
 * 3e-3), `batch`, `seed`, `optimizer.name`, `optimizer.betas` (a list),
 * `amp` (a boolean), then `extra.p06` … numbers, alternating with strings.
 */
export function generatedParams(n: number, count: number): Params {
  const all: [string, ParamValue][] = [
    ["lr", [1e-4, 3e-4, 1e-3, 3e-3][n % 4]],
    ["batch", [32, 64, 128][n % 3]],
    ["seed", n % 5],
    ["optimizer.name", OPTIMIZERS[n % OPTIMIZERS.length]],
    ["optimizer.betas", [0.9, 0.999]],
    ["amp", n % 2 === 0],
  ];
  for (let i = all.length; i < count; i++) {
    all.push([
      `extra.p${String(i).padStart(2, "0")}`,
      i % 2 ? `v${(n + i) % 7}` : ((n * 7 + i) % 100) / 10,
    ]);
  }
  const params: Params = {};
  for (const [key, value] of all.slice(0, count)) {
    const parts = key.split(".");
    let at = params as Record<string, ParamValue>;
    for (const part of parts.slice(0, -1)) {
      at = (at[part] ??= {}) as Record<string, ParamValue>;
    }
    at[parts.at(-1)!] = value;
  }
  return params;
}

/** The manifest generated specimen number `n` gets (with `params` params). */
export function generatedManifest(
  n: number,
  steps: number,
  prefix = "gen_",
  params = 0,
): Manifest {
  const [domain, method] = PAIRS[n % PAIRS.length];
  return {
    specimen_id: generatedId(n, prefix),
    created: new Date(Date.UTC(2024, 0, 1) + n * 3_600_000).toISOString(),
    taxonomy: { domain, method },
    status: "active",
    artifacts: {
      metrics: {
        path: "strata/metrics.parquet",
        format: "parquet",
        columns: [
          { name: "step", type: "INT64" },
          { name: "loss", type: "DOUBLE" },
          { name: "accuracy", type: "DOUBLE" },
        ],
        rows: steps,
      },
    },
    tags: ["generated", `seed_${n % 5}`, n % 2 ? "pythia" : "gpt2"],
    model: n % 2 ? "pythia-70m" : "gpt2",
    description: `generated specimen ${n}`,
    dependencies: { duckdb: "1.5" },
    ...(params > 0 ? { params: generatedParams(n, params) } : {}),
  };
}

/**
 * Writes `options.specimens` specimens into `<root>/specimens/` (created if
 * needed) and returns their ids. Loss falls as `exp(-step/300)` plus noise,
 * scaled by the method, so aggregates differ between methods.
 *
 * @example
 * ```ts ignore
 * import { generateVault } from "./gen_vault.ts";
 * await generateVault("/tmp/v", { specimens: 10, steps: 100 });
 * ```
 */
export async function generateVault(
  root: string,
  options: GenerateOptions,
): Promise<string[]> {
  const { specimens, steps, prefix = "gen_", first = 0, params = 0 } = options;
  const dir = join(root, "specimens");
  await Deno.mkdir(dir, { recursive: true });
  const staging = join(root, `.gen-${Deno.pid}`);
  using db = await openDatabase(":memory:");
  // One partitioned COPY writes every file. It does not keep row order (not
  // even with ORDER BY or one thread), so rows within a file are not in step
  // order: queries that care say ORDER BY step.
  await db.connection.run(
    `COPY (
      SELECT i // ${steps} + ${first} AS n,
        (i % ${steps})::BIGINT AS step,
        exp(-(i % ${steps}) / 300.0) * (1 + ((i // ${steps} + ${first}) % ${PAIRS.length}) / 10.0)
          + random() * 0.05 AS loss,
        least(1.0, (i % ${steps}) / ${steps}.0 + random() * 0.1) AS accuracy
      FROM range(${specimens * steps}) r(i)
    ) TO '${staging}' (FORMAT parquet, PARTITION_BY (n), OVERWRITE_OR_IGNORE)`,
  );
  const ids: string[] = [];
  for (let k = 0; k < specimens; k++) {
    const n = first + k;
    const id = generatedId(n, prefix);
    const part = join(staging, `n=${n}`);
    const strata = join(dir, id, "strata");
    Deno.mkdirSync(strata, { recursive: true });
    const [file] = [...Deno.readDirSync(part)];
    Deno.renameSync(join(part, file.name), join(strata, "metrics.parquet"));
    Deno.writeFileSync(
      join(dir, id, "manifest.msgpack"),
      encodeManifest(generatedManifest(n, steps, prefix, params)),
    );
    ids.push(id);
  }
  await Deno.remove(staging, { recursive: true });
  return ids;
}
