/**
 * Wide tables against `deno task import` (issue 22, "not attacked yet": a
 * CSV of 100,000 columns). It took 26 s and 660 MB to import one as a table
 * no catalog would load; now a table wider than 16,384 columns is refused,
 * a CSV by its header before it is parsed.
 */
import { join } from "../lib/_deps.ts";
import { MAX_IMPORT_TABLE_COLUMNS } from "../lib/importers/detect.ts";
import { HAS_TIME, taskMeasured } from "./_measured.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  tempDir,
  tempVault,
} from "./utils.ts";

const importMeasured = (args: string[]) => taskMeasured("import", args);

Deno.test({
  name:
    "deno task import refuses tables wider than 16,384 columns: a 100,000-column CSV by its header, a JSONL when planned; 16,000 columns import",
  ignore: !HAS_TIME,
  async fn() {
    await using vault = await tempVault();
    await using src = await tempDir();
    const row = (n: number, r: number) =>
      `${r},` + Array.from({ length: n }, (_, i) => `${i}.5`).join(",");
    const csv = join(src.path, "wide.csv");
    const n = 100_000;
    await Deno.writeTextFile(
      csv,
      "step," + Array.from({ length: n }, (_, i) => `c${i}`).join(",") +
        "\n" + row(n, 0) + "\n" + row(n, 1) + "\n",
    );
    const r = await importMeasured(["csv", csv, "--vault", vault.path]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      new RegExp(
        `Cannot import "${csv}": its header has 100001 columns or more, more than the ${MAX_IMPORT_TABLE_COLUMNS}`,
      ),
    );
    assert(r.rssMb < 200, `peak RSS ${r.rssMb.toFixed(0)} MB`);

    const jsonl = join(src.path, "wide.jsonl");
    const keys = (k: number) =>
      JSON.stringify(
        Object.fromEntries([
          ["step", 0],
          ...Array.from({ length: k }, (_, i) => [`k${i}`, i]),
        ]),
      );
    await Deno.writeTextFile(jsonl, keys(20_000) + "\n");
    const j = await importMeasured(["jsonl", jsonl, "--vault", vault.path]);
    assertEquals(j.code, 2, j.stderr);
    assertMatch(j.stderr, /its table "metrics" has 20001 columns, more than/);

    const ok = join(src.path, "ok.csv");
    const m = 16_000;
    await Deno.writeTextFile(
      ok,
      "step," + Array.from({ length: m }, (_, i) => `c${i}`).join(",") +
        "\n" + row(m, 0) + "\n",
    );
    const good = await importMeasured(["csv", ok, "--vault", vault.path]);
    assertEquals(good.code, 0, good.stderr);
    assertEquals(
      [...Deno.readDirSync(vault.specimens)].map((e) => e.name),
      ["csv_ok"],
    );
  },
});
