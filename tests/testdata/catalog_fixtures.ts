/**
 * Fixture specimens for the catalog and query tests, written directly
 * (manifest via `writeManifest`, metrics via DuckDB `COPY ... TO`), so the
 * tests do not depend on the storage layer.
 *
 * @module
 */
import { join } from "../../lib/_deps.ts";
import { openDatabase, plainRows } from "../../lib/duckdb/duckdb.ts";
import { type Manifest, writeManifest } from "../../lib/specimen/manifest.ts";
import { indexVault } from "../../lib/catalog/index_vault.ts";
import { INTEROP, tempVault } from "../utils.ts";

/** What a fixture specimen looks like; everything but `id` has a default. */
export interface FixtureSpecimen {
  id: string;
  created?: string;
  domain?: string;
  method?: string;
  tags?: string[];
  model?: string | null;
  description?: string | null;
  dependencies?: Record<string, string>;
  artifacts?: Manifest["artifacts"];
  /** Extra manifest keys, e.g. `provenance`. */
  extra?: Record<string, unknown>;
  /**
   * A SELECT whose rows become `strata/metrics.parquet`; `null` for none.
   * Default: {@linkcode metricsSql}`(10)`.
   */
  metrics?: string | null;
  /** Other `strata/<name>.parquet` files: name → SELECT. */
  tables?: Record<string, string>;
}

/** `steps` rows of step (BIGINT), loss (DOUBLE, falling), accuracy (DOUBLE). */
export function metricsSql(steps = 10, scale = 1): string {
  return `SELECT range::BIGINT AS step, ${scale} / (range + 1.0) AS loss, range / ${steps}.0 AS accuracy FROM range(${steps})`;
}

/**
 * Writes a specimen folder into `<vault>/specimens/<id>/` with a settled
 * `strata/` (its mtime a minute ago); returns the folder.
 */
export async function writeSpecimen(
  vault: string,
  spec: FixtureSpecimen,
): Promise<string> {
  const dir = join(vault, "specimens", spec.id);
  await Deno.mkdir(join(dir, "strata"), { recursive: true });
  await writeManifest(dir, {
    specimen_id: spec.id,
    created: spec.created ?? "2024-01-01T00:00:00+00:00",
    taxonomy: {
      domain: spec.domain ?? "training",
      method: spec.method ?? "fine_tuning",
    },
    status: "active",
    artifacts: spec.artifacts ?? {},
    tags: spec.tags ?? [],
    model: spec.model === undefined ? "gpt2" : spec.model,
    description: spec.description === undefined
      ? `fixture ${spec.id}`
      : spec.description,
    dependencies: spec.dependencies ?? {},
    ...spec.extra,
  });
  const files: [string, string][] = Object.entries(spec.tables ?? {});
  const metrics = spec.metrics === undefined ? metricsSql() : spec.metrics;
  if (metrics !== null) files.push(["metrics", metrics]);
  if (files.length) {
    using db = await openDatabase(":memory:");
    for (const [name, sql] of files) {
      await db.connection.run(
        `COPY (${sql}) TO '${
          join(dir, "strata", `${name}.parquet`)
        }' (FORMAT parquet)`,
      );
    }
  }
  // Written a while ago, as a finished run's folder is: the index trusts a
  // strata/ mtime only once settled (5 s), so a fresh one would make the
  // fingerprint depend on how fast this machine gets to the next index.
  const settled = new Date(Date.now() - 60_000);
  await Deno.utime(join(dir, "strata"), settled, settled);
  return dir;
}

/** Copies a folder tree. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) await copyTree(src, dst);
    else await Deno.copyFile(src, dst);
  }
}

/** The Python vault's specimens (read-only original). */
export const PYTHON_SPECIMENS: string = join(
  INTEROP,
  "python_vault",
  "specimens",
);

/** Ids of the Python vault's three specimens. */
export const PYTHON_IDS: string[] = [
  "2024_01_01_run_000000",
  "2024_01_01_run_000001",
  "2024_01_01_run_000002",
];

/** Copies the Python vault's specimens into `<vault>/specimens/`. */
export async function copyPythonSpecimens(vault: string): Promise<void> {
  await copyTree(PYTHON_SPECIMENS, join(vault, "specimens"));
}

/**
 * A temp vault, indexed, for the query tests: the Python vault's specimens
 * and one with a text full of quotes, a newline and a comma in a tag.
 */
export async function indexedQueryVault(): Promise<
  Awaited<ReturnType<typeof tempVault>>
> {
  const v = await tempVault();
  await copyPythonSpecimens(v.path);
  await writeSpecimen(v.path, {
    id: "tagged",
    domain: "interpretability",
    method: "probe_training",
    tags: ["gpt2", "a,b"],
    description: 'says "hi",\nthen leaves',
  });
  await indexVault({ vault: v.path });
  return v;
}

/** Counts rows of a Parquet file with DuckDB (independent of the catalog). */
export async function parquetRows(path: string): Promise<number> {
  using db = await openDatabase(":memory:");
  const reader = await db.connection.runAndReadAll(
    `SELECT count(*) FROM read_parquet('${path}')`,
  );
  return Number(reader.getRows()[0][0]);
}

/** Rows of `sql` on the vault's catalog, through a plain read-only connection. */
export async function catalogRows(
  vault: string,
  sql: string,
): Promise<Record<string, unknown>[]> {
  using db = await openDatabase(join(vault, "vault.duckdb"), {
    access_mode: "READ_ONLY",
  });
  return plainRows(await db.connection.runAndReadAll(sql));
}

/** The first value of the first row of `sql` on the vault's catalog. */
export async function catalogCount(
  vault: string,
  sql: string,
): Promise<number> {
  return Number(Object.values((await catalogRows(vault, sql))[0])[0]);
}
