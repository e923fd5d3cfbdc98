/**
 * Checks the project's own import graph (from `deno info --json` of
 * `mod.ts` and every `tasks/*.ts`): fails on any import cycle among the
 * project's modules, and on any import that goes up the layer order
 * ({@linkcode LAYERS}). Type-only imports count: a type cycle is a cycle
 * for a reader too.
 *
 * Usage: `deno task cycles [--root DIR]` (exit 0 clean, 1 with the
 * violations listed, 2 on a usage error).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The layer order, lowest first: a module may import its own layer and the
 * layers below it, never one above. Each entry names the layer and the
 * paths (relative to the root, `/` separators) it holds: a folder ends in
 * `/`, `*` matches a file directly in a folder. A path matched by none
 * belongs to the top layer (tasks, mod.ts, tooling).
 */
export const LAYERS: readonly { name: string; paths: readonly string[] }[] = [
  { name: "leaves", paths: ["lib/*", "lib/_deps/"] },
  {
    name: "cli, formats, duckdb, bridge, importers",
    paths: [
      "lib/cli/",
      "lib/formats/",
      "lib/duckdb/",
      "lib/bridge/",
      "lib/importers/",
    ],
  },
  { name: "specimen", paths: ["lib/specimen/"] },
  { name: "metrics_log", paths: ["lib/metrics_log/"] },
  { name: "run", paths: ["lib/run/"] },
  { name: "catalog", paths: ["lib/catalog/"] },
  { name: "query", paths: ["lib/query/"] },
  { name: "curate", paths: ["lib/curate/"] },
  { name: "dashboard", paths: ["lib/dashboard/"] },
  { name: "import", paths: ["lib/import/"] },
  { name: "remote", paths: ["lib/remote/"] },
];

/** The name of the layer of everything {@linkcode LAYERS} does not hold. */
export const TOP_LAYER = "tasks, mod.ts, tooling";

/** The import graph of the project's own modules: path → paths it imports. */
export type Graph = Map<string, Set<string>>;

/** The index in {@linkcode LAYERS} of the layer holding `path` (top: its length). */
export function layerOf(path: string): number {
  for (const [i, layer] of LAYERS.entries()) {
    for (const p of layer.paths) {
      if (p.endsWith("/*")) {
        const dir = p.slice(0, -1);
        if (path.startsWith(dir) && !path.slice(dir.length).includes("/")) {
          return i;
        }
      } else if (p.endsWith("/") ? path.startsWith(p) : path === p) {
        return i;
      }
    }
  }
  return LAYERS.length;
}

function layerName(i: number): string {
  return i < LAYERS.length ? LAYERS[i].name : TOP_LAYER;
}

const SCRIPT = /\.[cm]?[jt]sx?$/;

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/**
 * Builds the graph of the modules under `root` reached from `entries`
 * (paths relative to `root`), by `deno info --json` of each entry.
 */
export async function importGraph(
  root: string,
  entries: string[],
): Promise<Graph> {
  const graph: Graph = new Map();
  const own = (specifier: string | undefined): string | null => {
    if (!specifier?.startsWith("file:")) return null;
    const rel = relative(root, fileURLToPath(specifier));
    if (rel.startsWith("..") || rel.split(sep).includes("node_modules")) {
      return null;
    }
    return rel.split(sep).join("/");
  };
  const infos = await Promise.all(entries.map(async (entry) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", join(root, entry)],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `deno info --json ${entry} failed: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: InfoModule[];
    };
  }));
  for (const info of infos) {
    for (const m of info.modules) {
      const from = own(m.specifier);
      if (from === null || !SCRIPT.test(from)) continue;
      const to = graph.get(from) ?? new Set<string>();
      graph.set(from, to);
      for (const dep of m.dependencies ?? []) {
        for (const target of [dep.code?.specifier, dep.type?.specifier]) {
          const t = own(target);
          // Scripts only: a JSON or text import is data, not a layer.
          if (t !== null && SCRIPT.test(t)) to.add(t);
        }
      }
    }
  }
  return graph;
}

/**
 * The cycles of `graph`: one path per strongly connected component of more
 * than one module (or a module importing itself), as `[a, b, …, a]`.
 */
export function findCycles(graph: Graph): string[][] {
  // Tarjan's strongly connected components, iterative.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; next: string[] }[] = [];
    const visit = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: [...(graph.get(node) ?? [])].sort() });
    };
    visit(start);
    while (work.length > 0) {
      const top = work.at(-1)!;
      const child = top.next.shift();
      if (child !== undefined) {
        if (!index.has(child)) visit(child);
        else if (onStack.has(child)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) {
        low.set(
          parent.node,
          Math.min(low.get(parent.node)!, low.get(top.node)!),
        );
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== top.node);
        if (component.length > 1 || graph.get(n)?.has(n)) {
          components.push(component);
        }
      }
    }
  }
  return components.map((c) => cyclePath(graph, new Set(c)));
}

/** A shortest cycle through the first module (by name) of `component`. */
function cyclePath(graph: Graph, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!component.has(next)) continue;
      if (next === start) {
        const back: string[] = [];
        for (let n = node; n !== start; n = previous.get(n)!) back.push(n);
        return [start, ...back.reverse(), start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

/** An import from a lower layer to a higher one. */
export interface UpwardImport {
  from: string;
  to: string;
  fromLayer: string;
  toLayer: string;
}

/** Every import in `graph` that goes up {@linkcode LAYERS}. */
export function findUpwardImports(graph: Graph): UpwardImport[] {
  const found: UpwardImport[] = [];
  for (const [from, targets] of [...graph].sort(([a], [b]) => a < b ? -1 : 1)) {
    for (const to of [...targets].sort()) {
      if (layerOf(to) > layerOf(from)) {
        found.push({
          from,
          to,
          fromLayer: layerName(layerOf(from)),
          toLayer: layerName(layerOf(to)),
        });
      }
    }
  }
  return found;
}

/** The entry points of the project at `root`: mod.ts and tasks/*.ts. */
export async function entryPoints(root: string): Promise<string[]> {
  const entries: string[] = [];
  try {
    await Deno.stat(join(root, "mod.ts"));
    entries.push("mod.ts");
  } catch { /* no mod.ts */ }
  try {
    for await (const e of Deno.readDir(join(root, "tasks"))) {
      if (e.isFile && e.name.endsWith(".ts")) entries.push(`tasks/${e.name}`);
    }
  } catch { /* no tasks/ */ }
  return entries.sort();
}

/** Runs the check on the project at `--root` (default: this repository). */
export async function main(args: string[]): Promise<number> {
  let root: string;
  try {
    const { values } = parseArgs({
      args,
      options: { root: { type: "string" } },
      strict: true,
    });
    root = resolve(
      values.root ?? join(import.meta.dirname ?? ".", "..", ".."),
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const entries = await entryPoints(root);
  if (entries.length === 0) {
    console.error(`error: no mod.ts or tasks/*.ts under ${root}`);
    return 2;
  }
  const graph = await importGraph(root, entries);
  const cycles = findCycles(graph);
  const upward = findUpwardImports(graph);
  for (const cycle of cycles) {
    console.error(`import cycle: ${cycle.join(" -> ")}`);
  }
  for (const u of upward) {
    console.error(
      `upward import: ${u.from} (${u.fromLayer}) imports ${u.to} (${u.toLayer})`,
    );
  }
  if (cycles.length > 0 || upward.length > 0) {
    console.error(
      `${cycles.length} import cycle(s), ${upward.length} upward import(s) among ${graph.size} modules: the layer order, lowest first, is ${
        [...LAYERS.map((l) => l.name), TOP_LAYER].join(" -> ")
      } (tests/_tools/check_cycles.ts LAYERS); move the shared piece down a layer`,
    );
    return 1;
  }
  console.log(
    `No import cycles and no upward imports among ${graph.size} modules (${entries.length} entry points)`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
