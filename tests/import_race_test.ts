/**
 * Two real processes race for an id while an import places its specimens
 * (issue 22, item 13): the import that loses must take back what it placed
 * already, as a sweep does. The race is made to happen (not waited for by
 * time): `deno task create` takes the id of the import's second specimen
 * once the import has started building it (seen in its temp folder), and
 * that specimen is slow to build (a metric file of 600,000 lines). Whichever
 * way a trial ends, the vault holds all of the import or none of it.
 */
import { join } from "../lib/_deps.ts";
import { writeMlflowStore } from "./_mlflow_store.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

const IMPORT_FLAGS = await taskFlags("import");
const CREATE_FLAGS = await taskFlags("create");

function spawn(flags: string[], task: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, join(ROOT, "tasks", `${task}.ts`), ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function text(child: Deno.ChildProcess) {
  const o = await child.output();
  const dec = new TextDecoder();
  return {
    code: o.code,
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
  };
}

/** Whether the import's temp folder holds a folder named `id` now. */
function building(specimens: string, id: string): boolean {
  for (const e of Deno.readDirSync(specimens)) {
    if (!e.name.startsWith(".tmp-import-")) continue;
    try {
      Deno.statSync(join(specimens, e.name, id));
      return true;
    } catch { /* not yet */ }
  }
  return false;
}

Deno.test("deno task import that loses an id to another process midway takes back the specimens it placed: all or nothing", async () => {
  const first = "mlflow_mlf_a1", second = "mlflow_mlf_a2";
  let conflicts = 0;
  for (let trial = 0; trial < 3 && conflicts === 0; trial++) {
    await using vault = await tempVault();
    await using store = await tempDir();
    const { ids, exp } = await writeMlflowStore(store.path);
    {
      using f = await Deno.open(join(exp, ids[1], "metrics", "slow"), {
        write: true,
        create: true,
      });
      let s = "";
      for (let j = 0; j < 600_000; j++) s += `${1795779100000 + j} 0.5 ${j}\n`;
      await f.write(new TextEncoder().encode(s));
    }
    const importing = spawn(IMPORT_FLAGS, "import", [
      "mlflow",
      join(store.path, "mlruns"),
      "--vault",
      vault.path,
    ]);
    const result = text(importing);
    let done = false;
    result.finally(() => done = true);
    // Wait on a condition: the import is building its second specimen.
    while (!done && !building(vault.specimens, second)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const taker = await text(spawn(CREATE_FLAGS, "create", [
      "--vault",
      vault.path,
      "--id",
      second,
      "--domain",
      "training",
      "--method",
      "fine_tuning",
    ]));
    const imp = await result;
    const names = [...Deno.readDirSync(vault.specimens)].map((e) => e.name)
      .sort();
    if (imp.code === 0) {
      // The import placed both first: the create lost instead.
      assertEquals(taker.code, 3, taker.stderr);
      assertEquals(names, [first, second]);
    } else {
      conflicts++;
      assertEquals(imp.code, 3, imp.stderr);
      assertEquals(taker.code, 0, taker.stderr);
      // Only the other process's specimen: the first import taken back.
      assertEquals(names, [second]);
      assertMatch(imp.stderr, /created meanwhile; nothing was imported/);
      const manifest = await Deno.readFile(
        join(vault.specimens, second, "manifest.msgpack"),
      );
      assert(!new TextDecoder().decode(manifest).includes("imported_from"));
    }
  }
  assert(conflicts > 0, "the race never happened in 3 trials");
});
