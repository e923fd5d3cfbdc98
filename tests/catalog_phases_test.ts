/**
 * Rules the catalog now shares with the rest of the library: the stale-temp
 * sweep of lib/_fs.ts, the artifact-name rule of lib/specimen/, and the one
 * Parquet footer reader of lib/formats/parquet/footer.ts.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { CorruptFileError } from "../lib/errors.ts";
import {
  readParquetFooter,
  readParquetFooterSync,
} from "../lib/formats/parquet/footer.ts";
import { encodeMetrics } from "../lib/formats/parquet/parquet.ts";
import { metricsSql, writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  tempDir,
  tempVault,
} from "./utils.ts";

Deno.test("indexVault() removes the temp catalogs of an indexer that died, never a user's .tmp- folder", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  const stale = [
    ".tmp-vault.duckdb-999999-0badf00d",
    ".tmp-vault.duckdb-999999-0badf00d.wal",
  ];
  const mine = [".tmp-vault.duckdb-notes", ".tmp-vault.duckdb-1-xyz"];
  for (const name of stale) Deno.writeTextFileSync(join(v.path, name), "x");
  for (const name of mine) {
    Deno.mkdirSync(join(v.path, name));
    Deno.writeTextFileSync(join(v.path, name, "keep.txt"), "mine");
  }
  const report = await indexVault({ vault: v.path });
  assertEquals(report.indexed, 1);
  const left = [...Deno.readDirSync(v.path)].map((e) => e.name).sort();
  for (const name of stale) assert(!left.includes(name), name);
  for (const name of mine) {
    assertEquals(Deno.readTextFileSync(join(v.path, name, "keep.txt")), "mine");
  }
});

Deno.test("indexVault() holds metric table names to the artifact-name rule, length included", async (t) => {
  for (
    const [name, indexed] of [
      ["a".repeat(64), true],
      ["a".repeat(65), false],
      ["Acts", true],
      ["bad-name", false],
    ] as const
  ) {
    await t.step(
      `${name.length > 10 ? `${name.length} letters` : name}`,
      async () => {
        await using v = await tempVault();
        await writeSpecimen(v.path, {
          id: "a",
          tables: { [name]: metricsSql(3) },
        });
        const warnings: string[] = [];
        await indexVault({ vault: v.path, onWarning: (w) => warnings.push(w) });
        const said = warnings.some((w) =>
          w.includes(
            `strata/${name}.parquet: a metric table name must be 1 to 64 of`,
          )
        );
        assertEquals(said, !indexed, warnings.join("\n"));
      },
    );
  }
});

Deno.test("readParquetFooter() and its sync twin read a footer, and refuse bytes that are not Parquet with CorruptFileError", async (t) => {
  await using dir = await tempDir();
  const { bytes } = await encodeMetrics({ step: [0, 1, 2], loss: [3, 2, 1] });
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /0 bytes is too short for Parquet/],
    ["text", new TextEncoder().encode("step,loss\n0,1\n"), /footer/],
    ["the last half gone", bytes.slice(0, bytes.length / 2), /footer/],
    [
      "a huge footer length",
      (() => {
        const b = bytes.slice();
        new DataView(b.buffer).setUint32(b.length - 8, 0x7fffffff, true);
        return b;
      })(),
      /footer length 2147483647 exceeds the file/,
    ],
  ];
  const good = join(dir.path, "good.parquet");
  Deno.writeFileSync(good, bytes);
  assertEquals(
    Number((await readParquetFooter(good, { root: dir.path })).num_rows),
    3,
  );
  assertEquals(
    readParquetFooterSync(good, { root: dir.path }).schema.length,
    3,
  );
  for (const [label, data, reason] of cases) {
    await t.step(label, async () => {
      const path = join(dir.path, `${label.replaceAll(" ", "_")}.parquet`);
      Deno.writeFileSync(path, data);
      const e = await assertRejects(
        () => readParquetFooter(path, { root: dir.path, what: "log part" }),
        CorruptFileError,
        `Cannot read log part "${path}": its footer does not decode`,
      );
      assert(reason.test((e as Error).message), (e as Error).message);
      assertThrows(
        () => readParquetFooterSync(path, { root: dir.path }),
        CorruptFileError,
        `Cannot read Parquet file "${path}"`,
      );
    });
  }
});
