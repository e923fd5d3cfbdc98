/**
 * The wide-table case of `deno task stress` (issue 22, item 4): ordinary
 * specimens beside metric tables of random widths (up to 12,000 columns,
 * some of them sharing a schema, some wider than the catalog loads), indexed
 * by a full and then an incremental `deno task index` while another
 * incremental index races the first: every ordinary specimen keeps its rows,
 * each wide one is loaded alone or refused by name, and `metrics` stays
 * narrow.
 *
 * Self-contained (it imports nothing from `stress.ts`, which lists it).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import {
  MAX_CATALOG_COLUMNS,
  MAX_UNION_COLUMNS,
} from "../../../lib/catalog/_column_types.ts";
import { metricsSql, writeSpecimen } from "../../testdata/catalog_fixtures.ts";
import { assert, assertEquals, ROOT } from "../../utils.ts";

const INDEX_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
];

async function index(vault: string, ...args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...INDEX_FLAGS,
      join(ROOT, "tasks", "index.ts"),
      "--vault",
      vault,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: o.code,
    out: new TextDecoder().decode(o.stdout) +
      new TextDecoder().decode(o.stderr),
  };
}

function wideSql(n: number, prefix: string): string {
  return "SELECT 0::BIGINT AS step, " +
    Array.from({ length: n }, (_, i) => `${i}.5::DOUBLE AS ${prefix}${i}`)
      .join(", ");
}

async function metricsRows(vault: string) {
  const { VaultQuery } = await import("../../../lib/query/vault_query.ts");
  using q = await VaultQuery.open({ vault });
  const rows = await q.search(
    "SELECT specimen_id, count(*)::INTEGER AS n FROM metrics GROUP BY 1",
  );
  const [{ w }] = await q.search(
    "SELECT count(*)::INTEGER AS w FROM duckdb_columns() WHERE table_name = 'metrics'",
  );
  return {
    rows: new Map(rows.map((r) => [String(r.specimen_id), Number(r.n)])),
    width: Number(w),
  };
}

/** One round: see the module's doc. */
export const wideTables = {
  name: "wide tables",
  what:
    "12 ordinary specimens beside 3–5 one-row tables of 300–12,000 columns; --full, then two incremental indexes at once after more arrive",
  async run(
    vault: { path: string; specimens: string },
  ): Promise<{ label: string; counts?: Record<string, number> }> {
    const ordinary = Array.from({ length: 12 }, (_, i) => `ord_${i}`);
    for (const id of ordinary.slice(0, 6)) {
      await writeSpecimen(vault.path, { id, metrics: metricsSql(9) });
    }
    const widths = Array.from(
      { length: 3 + Math.floor(Math.random() * 3) },
      () => 300 + Math.floor(Math.random() * 11_700),
    );
    // Two share a schema: the full index's bulk read sees a pair.
    widths.push(widths[0]);
    const wide = widths.map((n, i) => ({ id: `wide_${i}_${n}`, n }));
    for (const [i, w] of wide.entries()) {
      await writeSpecimen(vault.path, {
        id: w.id,
        metrics: wideSql(w.n, i === wide.length - 1 ? "w0_" : `w${i}_`),
      });
      if (i === 1) {
        const full = await index(vault.path, "--full");
        assertEquals(full.code, 0, full.out);
      }
    }
    for (const id of ordinary.slice(6)) {
      await writeSpecimen(vault.path, { id, metrics: metricsSql(9) });
    }
    const both = await Promise.all([index(vault.path), index(vault.path)]);
    for (const o of both) assertEquals(o.code, 0, o.out);
    const out = both.map((o) => o.out).join("\n");
    const { rows, width } = await metricsRows(vault.path);
    for (const id of ordinary) assertEquals(rows.get(id), 9, id);
    assert(width <= MAX_UNION_COLUMNS + 1, `metrics has ${width} columns`);
    let refused = 0;
    for (const w of wide) {
      if (w.n + 1 > MAX_CATALOG_COLUMNS) {
        refused++;
        assert(
          new RegExp(`${w.id}: .*more than the catalog loads`).test(out) ||
            !rows.has(w.id),
          `${w.id} refused without a word`,
        );
      }
    }
    return {
      label: "ordinary rows all kept",
      counts: { "wide tables": wide.length, "refused": refused },
    };
  },
};
