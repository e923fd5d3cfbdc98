/**
 * `query --format json` keeps the sign of -0.0 (JSON.stringify alone prints
 * `0`): TensorBoard's `special/v` logs -0.0 and a faithful reader sees it.
 */
import { stringifyJsonRow } from "../lib/duckdb/value_forms.ts";
import { join } from "../lib/_deps.ts";
import { assertEquals, INTEROP, runTask, tempVault } from "./utils.ts";

Deno.test("stringifyJsonRow() prints -0 as -0.0 and leaves strings holding it alone", () => {
  assertEquals(
    stringifyJsonRow({ a: -0, b: 0, c: [-0, 1.5], d: "-0", e: 1n }),
    '{"a":-0.0,"b":0,"c":[-0.0,1.5],"d":"-0","e":"1"}',
  );
  assertEquals(JSON.parse(stringifyJsonRow({ a: -0 })).a, -0);
});

Deno.test("deno task query --format json prints TensorBoard's logged -0.0 as -0.0", async () => {
  await using vault = await tempVault();
  const imported = await runTask("import", [
    "tensorboard",
    join(INTEROP, "trackers2", "tensorboard", "torch_edge"),
    "--vault",
    vault.path,
  ]);
  assertEquals(imported.code, 0, imported.stderr);
  const index = await runTask("index", ["--vault", vault.path]);
  assertEquals(index.code, 0, index.stderr);
  const r = await runTask("query", [
    "--vault",
    vault.path,
    "--format",
    "json",
    `select step, "special/v" as v from metrics where step in (13, 14) order by step`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(
    r.stdout,
    '[\n{"step":13,"v":-0.0},\n{"step":14,"v":3.4028234663852886e+38}\n]\n',
  );
});
