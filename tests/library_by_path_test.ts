import { pathToFileURL } from "node:url";
import { join } from "../lib/_deps.ts";
import { assert, assertEquals, ROOT, runDeno, tempDir } from "./utils.ts";

// A researcher's own script, kept outside the repository, imports the library
// by path or URL: no deno.json maps its npm packages there, so lib/ must name
// them by full npm: specifiers (lib/_deps.ts).
const SCRIPT = (mod: string) => `
import {
  createSpecimen,
  indexVault,
  SpecimenStorage,
  VaultQuery,
} from ${JSON.stringify(mod)};
const vault = Deno.args[0];
await Deno.mkdir(vault + "/specimens", { recursive: true });
const { dir } = await createSpecimen({
  vault,
  id: "from_outside",
  domain: "training",
  method: "fine_tuning",
});
const storage = await SpecimenStorage.open(dir);
await storage.writeMetrics({ step: [0, 1, 2], loss: [2.5, 1.25, 0.5] });
await storage.writeTensor("w", new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
const { data } = await storage.readTensor("w", [1]);
const { columns } = await storage.readMetrics();
await indexVault({ vault });
using q = await VaultQuery.open({ vault });
const { rows } = await q.run("SELECT min(loss) AS best FROM metrics");
console.log(JSON.stringify({ row: Array.from(data), loss: columns.loss, best: rows[0].best }));
`;

for (const form of ["path", "file URL"] as const) {
  Deno.test(`the library works imported by ${form} from a script outside the repository, with no deno.json`, async () => {
    await using outside = await tempDir("sv_outside_");
    const mod = join(ROOT, "mod.ts");
    const script = join(outside.path, "analysis.ts");
    await Deno.writeTextFile(
      script,
      SCRIPT(form === "path" ? mod : pathToFileURL(mod).href),
    );
    const r = await runDeno(
      ["run", "-A", "--no-lock", script, join(outside.path, "vault")],
      { cwd: outside.path },
    );
    assertEquals(r.code, 0, r.stderr);
    assert(!/not a dependency/.test(r.stderr), r.stderr);
    assertEquals(JSON.parse(r.stdout.trim().split("\n").at(-1)!), {
      row: [3, 4],
      loss: [2.5, 1.25, 0.5],
      best: 0.5,
    });
  });
}
