/**
 * Specimens with params for the catalog, query and dashboard tests: made by
 * `createSpecimen`, with a small `strata/metrics.parquet`.
 *
 * @module
 */
import { join } from "../../lib/_deps.ts";
import { openDatabase } from "../../lib/duckdb/duckdb.ts";
import { createSpecimen } from "../../lib/specimen/create.ts";
import type { Params } from "../../lib/specimen/params.ts";
import { metricsSql } from "./catalog_fixtures.ts";

/** A specimen made by createSpecimen with `params`, and metrics whose final loss is `scale / steps`. */
export async function paramSpecimen(
  vault: string,
  id: string,
  params: Params | undefined,
  scale = 1,
  steps = 10,
): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
    params,
  });
  using db = await openDatabase(":memory:");
  await db.connection.run(
    `COPY (${metricsSql(steps, scale)}) TO '${
      join(dir, "strata", "metrics.parquet")
    }' (FORMAT parquet)`,
  );
  const settled = new Date(Date.now() - 60_000);
  await Deno.utime(join(dir, "strata"), settled, settled);
  return dir;
}
