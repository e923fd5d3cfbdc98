import { assert } from "./utils.ts";
import { join } from "node:path";

const ROOT = join(import.meta.dirname!, "..");

Deno.test("the README's task table lists every task of deno.json", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(join(ROOT, "deno.json")),
  ) as { tasks: Record<string, unknown> };
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const table = readme.slice(
    readme.indexOf("## Tasks"),
    readme.indexOf("Every task takes `--help`"),
  );
  const listed = new Set(
    [...table.matchAll(/^\| `deno task ([a-z_]+)/gm)].map((m) => m[1]),
  );
  const missing = Object.keys(config.tasks).filter((t) => !listed.has(t));
  assert(missing.length === 0, `README's task table lacks: ${missing}`);
});

Deno.test("docs/ARCHITECTURE.md names every folder and leaf file of lib/ and the layer order of the cycle check", async () => {
  const doc = await Deno.readTextFile(join(ROOT, "docs", "ARCHITECTURE.md"));
  for await (const e of Deno.readDir(join(ROOT, "lib"))) {
    if (e.isDirectory) {
      assert(doc.includes(`lib/${e.name}/`), `lib/${e.name}/ is not described`);
    } else if (e.name.endsWith(".ts") && !/^_fs_\w+\.ts$/.test(e.name)) {
      assert(doc.includes(`\`${e.name}\``), `lib/${e.name} is not described`);
    }
  }
  const { LAYERS } = await import("./_tools/check_cycles.ts");
  let at = doc.indexOf("## Layers");
  for (const layer of LAYERS) {
    const first = layer.paths[0].replace("*", "");
    const found = doc.indexOf(`\`${first}`, at);
    assert(
      found > at,
      `layer ${layer.name} (${first}) out of order in the doc`,
    );
    at = found;
  }
});

Deno.test("the README's Layout names every folder of lib/ and of the top level", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const start = readme.indexOf("## Layout");
  const layout = readme.slice(start, readme.indexOf("\n## ", start + 1));
  for (const [dir, prefix] of [["lib", "  "], [".", ""]] as const) {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      if (!e.isDirectory || e.name.startsWith(".")) continue;
      const named = new RegExp(`(^|\\s)${e.name}/`, "m");
      assert(
        named.test(layout),
        `README's Layout lacks ${prefix.length ? "lib/" : ""}${e.name}/`,
      );
    }
  }
});

Deno.test("every relative link of the README and docs/ leads to a file of the repository", async () => {
  const files = ["README.md"];
  for await (const e of Deno.readDir(join(ROOT, "docs"))) {
    if (e.isFile && e.name.endsWith(".md")) files.push(join("docs", e.name));
  }
  const broken: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split("#")[0];
      if (!target || /^[a-z]+:/.test(target)) continue;
      const path = join(ROOT, file, "..", target);
      if (!(await Deno.stat(path).then(() => true, () => false))) {
        broken.push(`${file}: ${m[1]}`);
      }
    }
  }
  assert(broken.length === 0, `broken links:\n${broken.join("\n")}`);
});
