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
const columns = await storage.readMetrics();
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

Deno.test("lib/ names npm packages only in its deps modules, each at the version deno.json pins", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(join(ROOT, "deno.json")),
  ) as { imports: Record<string, string> };
  const pinned = new Set(Object.values(config.imports));
  const deps = /(^|\/)_deps(\.ts$|\/)/;
  const seen: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (/\.ts$/.test(e.name)) {
        const rel = path.slice(ROOT.length + 1);
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/from\s+"(npm:[^"]+)"/g)) {
          assert(
            deps.test(rel),
            `${rel} imports ${m[1]} outside a deps module`,
          );
          const pkg = m[1].match(/^npm:(@?[^@/]+(?:\/[^@/]+)?@[^/]+)/)?.[1];
          assert(
            pkg && pinned.has(`npm:${pkg}`),
            `${rel}: ${m[1]} is not the version deno.json pins`,
          );
          seen.push(m[1]);
        }
        for (
          const m of text.matchAll(
            /^(?:import|export)\b[^;`]*?\sfrom\s+"([^".][^"]*)"/gm,
          )
        ) {
          assert(
            /^(node:|npm:)/.test(m[1]),
            `${rel} imports the bare specifier "${
              m[1]
            }", which only this folder's deno.json maps`,
          );
        }
      }
    }
  };
  await walk(join(ROOT, "lib"));
  assert(seen.length > 10, `only ${seen.length} npm specifiers found`);
});
