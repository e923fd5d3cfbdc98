import { join } from "../lib/_deps.ts";
import { copyTree, importCli } from "./_import.ts";
import {
  assertEquals,
  INTEROP,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

const INDEX = await taskFlags("index");
const QUERY = await taskFlags("query");

async function relations(vault: string): Promise<string[]> {
  const index = await runDeno([
    "run",
    ...INDEX,
    join(ROOT, "tasks", "index.ts"),
    "--vault",
    vault,
  ]);
  assertEquals(index.code, 0, index.stderr);
  const q = await runDeno([
    "run",
    ...QUERY,
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    vault,
    "--local",
    "--format",
    "json",
    "SELECT relation FROM metric_tables WHERE specimen_id LIKE 'tb\\_%' ESCAPE '\\' ORDER BY 1",
  ]);
  assertEquals(q.code, 0, q.stderr);
  return JSON.parse(q.stdout).map((r: { relation: string }) => r.relation);
}

Deno.test("add_hparams' metrics land in a table named hparams in every imported TensorBoard run, not one named after a time", async () => {
  await using vault = await tempVault();
  await using src = await tempDir();
  await copyTree(join(INTEROP, "trackers", "tensorboard"), src.path);
  // A run where add_hparams was called twice: PyTorch's second folder, named
  // after a later time (the tool's own files, copied).
  await copyTree(
    join(src.path, "run_b", "1795779300.6247993"),
    join(src.path, "run_b", "1795779399.1234567"),
  );
  const r = await importCli([
    "tensorboard",
    src.path,
    "--vault",
    vault.path,
    "--prefix",
    "tb_",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const rels = await relations(vault.path);
  assertEquals(rels.filter((x) => /\d{6}/.test(x)), []);
  assertEquals(rels.filter((x) => x.includes("hparams")), [
    "exp_tb_run_a__hparams",
    "exp_tb_run_b__hparams",
    "exp_tb_run_b__hparams_2",
    "exp_tb_run_torch__hparams",
  ]);
  const q = await runDeno([
    "run",
    ...QUERY,
    join(ROOT, "tasks", "query.ts"),
    "--vault",
    vault.path,
    "--local",
    "--format",
    "json",
    `SELECT round("hparam/best_accuracy", 2) AS best FROM exp_tb_run_a__hparams`,
  ]);
  assertEquals(q.code, 0, q.stderr);
  assertEquals(JSON.parse(q.stdout), [{ best: 0.93 }]);
});
