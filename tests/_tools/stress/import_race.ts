/**
 * The import race of `deno task stress` (issue 22, item 13): two real
 * `deno task import` processes of two copies of one MLflow store (so both
 * plan the same ids; the second copy's runs in the other order, so that
 * each may win one id and lose the other), started at once. Whatever the
 * interleaving, each import is all or nothing: one exits 0 with every id
 * and the other 3 with none of its own left (told apart by their source
 * path), or both exit 3 and the vault is empty.
 *
 * Self-contained (it imports nothing from `stress.ts`, which lists it).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { readManifest } from "../../../lib/specimen/manifest.ts";
import { writeMlflowStore } from "../../_mlflow_store.ts";
import { assert, assertEquals, ROOT } from "../../utils.ts";

const IMPORT_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env=SPECIMEN_VAULT,INIT_CWD,LOG_TOKENS,LOG_STREAM",
];

async function importStore(vault: string, store: string) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...IMPORT_FLAGS,
      join(ROOT, "tasks", "import.ts"),
      "mlflow",
      store,
      "--vault",
      vault,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, stderr: new TextDecoder().decode(o.stderr) };
}

/** One round: see the module's doc. */
export const importRace = {
  name: "2 imports of one store",
  what:
    "two `deno task import mlflow` of copies of one store (same run names) start at once",
  async run(
    vault: { path: string; specimens: string },
  ): Promise<{ label: string; counts?: Record<string, number> }> {
    const stores = [join(vault.path, ".src_a"), join(vault.path, ".src_b")];
    for (const s of stores) await writeMlflowStore(s);
    // The second copy lists its runs in the other order.
    const { ids, exp } = await writeMlflowStore(join(vault.path, ".src_c"));
    await Deno.remove(join(vault.path, ".src_c"), { recursive: true });
    const expB = exp.replace(".src_c", ".src_b");
    await Deno.rename(join(expB, ids[0]), join(expB, `9${ids[0].slice(1)}`));
    const [a, b] = await Promise.all(
      stores.map((s) => importStore(vault.path, join(s, "mlruns"))),
    );
    const ids_ = [...Deno.readDirSync(vault.specimens)]
      .filter((e) => !e.name.startsWith("."))
      .map((e) => e.name).sort();
    const codes = [a.code, b.code].sort();
    if (codes[0] === 3 && codes[1] === 3) {
      // Each won one id and lost the other: both took theirs back.
      assertEquals(ids_, [], `${a.stderr}${b.stderr}`);
      return { label: "both nothing (each lost one id)" };
    }
    assertEquals(
      codes,
      [0, 3],
      `exit codes ${a.code}, ${b.code}: ${a.stderr}${b.stderr}`,
    );
    const winner = a.code === 0 ? stores[0] : stores[1];
    assert(ids_.length > 0);
    for (const id of ids_) {
      const m = await readManifest(join(vault.specimens, id));
      const from = JSON.stringify(m.provenance ?? {});
      assert(
        from.includes(winner),
        `${id} came from the losing import (${from.slice(0, 200)})`,
      );
    }
    return { label: "one all, the other nothing" };
  },
};
