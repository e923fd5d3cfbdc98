/**
 * Fault and concurrency scenarios shared by the reliability tests (one trial
 * each, in `deno task test`) and `deno task stress` (many trials, random
 * kill delays).
 *
 * A fault scenario builds a vault in a known good state, starts a real
 * process (tests/_fault_child.ts) on one operation, kills it with SIGKILL
 * at some moment, and then checks the invariants every fault must keep:
 *
 * - the previous good state is intact (every other file byte for byte, the
 *   manifest still valid and still recording what it recorded);
 * - nothing partial is visible: each file under a real name is complete, or
 *   absent (temp names start with `.tmp-` and every reader skips them);
 * - a rerun succeeds, and afterwards the specimen seals and verifies clean.
 *
 * @module
 */
import { CHANGES_FILE } from "../../../lib/vault_changes.ts";
import { join } from "../../../lib/_deps.ts";
import { sha256File } from "../../../lib/_hash.ts";
import { createSpecimen } from "../../../lib/specimen/create.ts";
import {
  ImmutableArtifactError,
  SpecimenExistsError,
} from "../../../lib/errors.ts";
import { readManifest } from "../../../lib/specimen/manifest.ts";
import { sealSpecimen } from "../../../lib/specimen/seal.ts";
import { SpecimenStorage } from "../../../lib/run/storage.ts";
import { verifySpecimen, verifyVault } from "../../../lib/specimen/verify.ts";
import { metricColumns, tensorValue } from "../../_fault_child.ts";
import { generateVault } from "../bench/gen_vault.ts";
import { EXEC_RACES } from "./exec_races.ts";
import { wideTables } from "./wide.ts";
import { importRace } from "./import_race.ts";
import { assert, assertEquals, assertRejects, ROOT } from "../../utils.ts";
import { adoptRaceScenario } from "./adopt_race.ts";

/** The script the fault scenarios run and kill. */
export const CHILD: string = join(ROOT, "tests", "_fault_child.ts");

/** A provenance stub: storage then skips capturing one (git, deno info). */
export const PROVENANCE_STUB = { captured_by: "reliability test" };

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Looking at a vault

/** Every file under `root` (recursively), as `/`-separated relative paths. */
export function listAll(root: string, rel = ""): string[] {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(join(root, rel))];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...listAll(root, path));
    else out.push(path);
  }
  return out.sort();
}

/** Whether a path has a hidden segment (`.tmp-…`, `.lock`, …). */
export function isHidden(path: string): boolean {
  return path.split("/").some((s) => s.startsWith("."));
}

/** Paths under `root` that are (or are inside) a `.tmp-` temp entry. */
export function tempLeftovers(root: string): string[] {
  const out = new Set<string>();
  const walk = (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(join(root, rel))];
    } catch {
      return;
    }
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.startsWith(".tmp-")) out.add(path);
      else if (e.isDirectory) walk(path);
    }
  };
  walk("");
  return [...out].sort();
}

/** SHA-256 of every visible data file under `root`, except those `skip` names. */
export async function snapshot(
  root: string,
  skip: (path: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of listAll(root)) {
    // Lock files hold no data (the index lock holds its holder's pid); the
    // change journal grows with every write, and is a cache of the index.
    if (
      isHidden(path) || path.endsWith(".lock") || path === CHANGES_FILE ||
      skip(path)
    ) continue;
    out[path] = (await sha256File(join(root, path))).sha256;
  }
  return out;
}

/** Asserts that every file of `before` is still there, byte for byte. */
export async function assertUnchanged(
  root: string,
  before: Record<string, string>,
): Promise<void> {
  for (const [path, sha] of Object.entries(before)) {
    let now: string;
    try {
      now = (await sha256File(join(root, path))).sha256;
    } catch (e) {
      throw new Error(`${path} of the previous good state is gone: ${e}`);
    }
    assert(now === sha, `${path} of the previous good state was modified`);
  }
}

/** A temp folder with an empty `specimens/`; `dispose()` removes it. */
export async function freshVault(): Promise<
  { path: string; specimens: string } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix: "sv_fault_" });
  const specimens = join(path, "specimens");
  await Deno.mkdir(specimens);
  return {
    path,
    specimens,
    [Symbol.asyncDispose]: () =>
      Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** A sealed specimen with a metrics table and a tensor: the "other specimen". */
export async function sealedNeighbour(
  vault: string,
  id = "neighbour",
): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "interpretability",
    method: "sae_analysis",
    tags: ["neighbour"],
    extra: { provenance: PROVENANCE_STUB },
  });
  const s = await SpecimenStorage.open(dir);
  await s.writeMetrics({ step: [0, 1, 2, 3], loss: [0.4, 0.3, 0.2, 0.1] });
  await s.writeTensor("acts", Float32Array.from({ length: 64 }, (_, i) => i), {
    shape: [8, 8],
  });
  await sealSpecimen(dir);
  return dir;
}

/** An active specimen with one small table, `baseline`: the good state. */
export async function activeTarget(
  vault: string,
  id = "target",
): Promise<{ dir: string; storage: SpecimenStorage }> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
    tags: ["target"],
    extra: { provenance: PROVENANCE_STUB },
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics(BASELINE, { name: "baseline" });
  return { dir, storage };
}

const BASELINE = { step: [0, 1, 2], loss: [1, 0.5, 0.25] };

async function assertSealsClean(dir: string): Promise<void> {
  const m = await sealSpecimen(dir);
  const sealed = Object.keys(m.seal!.files);
  const hidden = sealed.filter((p) =>
    p.split("/").some((s) => s.startsWith(".tmp-"))
  );
  assertEquals(hidden, [], "temp leftovers were sealed as results");
  const v = await verifySpecimen(dir);
  assertEquals(v.state, "ok", JSON.stringify(v));
  assertEquals(tempLeftovers(dir), [], "the rerun left temp leftovers");
}

async function assertNeighbourOk(dir: string): Promise<void> {
  const v = await verifySpecimen(dir);
  assertEquals(v.state, "ok", `the other specimen: ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------
// Running and killing a child

/** When to send SIGKILL, counted from the child's READY line. */
export type Trigger =
  | { kind: "delay"; ms: number }
  | { kind: "line"; text: string; ms?: number }
  | { kind: "temp"; dir: string; ms?: number }
  | { kind: "file"; path: string }
  | { kind: "never" };

/** How a child run ended. */
export interface ChildRun {
  /** SIGKILL arrived before the operation finished. */
  killed: boolean;
  /** The exit code (null when killed). */
  code: number | null;
  /** Milliseconds from READY to DONE, when it finished. */
  opMs: number | null;
  /** Every line it printed. */
  lines: string[];
  stderr: string;
}

/** Options of {@linkcode runChild}. */
export interface RunChildOptions {
  /** A command line to run deno under, e.g. `["setpriv", ...]`. */
  prefix?: string[];
  /** Deno's permission flags. @default ["-A"] */
  denoFlags?: string[];
  /** Return a failed run instead of throwing. @default false */
  allowFailure?: boolean;
}

/**
 * Runs `tests/_fault_child.ts <op> <args>` and kills it (SIGKILL) at
 * `trigger`. Throws when the child fails on its own.
 */
export async function runChild(
  op: string,
  args: unknown,
  trigger: Trigger,
  options: RunChildOptions = {},
): Promise<ChildRun> {
  const argv = [
    "run",
    ...(options.denoFlags ?? ["-A"]),
    CHILD,
    op,
    JSON.stringify(args),
  ];
  const [cmd, ...pre] = options.prefix?.length
    ? [...options.prefix, Deno.execPath()]
    : [Deno.execPath()];
  const child = new Deno.Command(cmd, {
    args: [...pre, ...argv],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stderr = new Response(child.stderr).text();
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  let readyAt = 0;
  let doneAt = 0;
  const reading = (async () => {
    let buf = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line === "READY") readyAt = performance.now();
        if (line.startsWith("DONE")) doneAt = performance.now();
        for (const w of waiters.filter((w) => line.startsWith(w.text))) {
          w.resolve();
        }
      }
    }
    for (const w of waiters) w.resolve(); // the child ended
  })();
  const waitLine = (text: string) =>
    lines.some((l) => l.startsWith(text))
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ text, resolve }));

  await waitLine("READY");
  let killed = false;
  if (trigger.kind !== "never" && !exited) {
    if (trigger.kind === "delay") await preciseSleep(trigger.ms);
    else if (trigger.kind === "line") {
      await waitLine(trigger.text);
      if (trigger.ms) await sleep(trigger.ms);
    } else if (trigger.kind === "temp") {
      while (!exited && !hasTemp(trigger.dir)) await sleep(1);
      if (trigger.ms) await sleep(trigger.ms);
    } else if (trigger.kind === "file") {
      // Spin on stat (microseconds apart), yielding now and then so that the
      // child's exit is noticed: the kill lands right after the rename.
      spin: while (!exited) {
        for (let k = 0; k < 200; k++) {
          if (existsSync(trigger.path)) break spin;
        }
        await sleep(0);
      }
    }
    if (!exited && doneAt === 0) {
      try {
        child.kill("SIGKILL");
        killed = true;
      } catch { /* it ended on its own meanwhile */ }
    }
  }
  const s = await status;
  await reading;
  const err = await stderr;
  const done = lines.some((l) => l.startsWith("DONE"));
  if (killed && s.signal !== "SIGKILL") killed = false;
  if (!killed && !(done && s.code === 0) && !options.allowFailure) {
    throw new Error(
      `child ${op} failed (code ${s.code}, signal ${s.signal}): ${err}`,
    );
  }
  return {
    killed: killed && !done,
    code: killed ? null : s.code,
    opMs: done && readyAt ? doneAt - readyAt : null,
    lines,
    stderr: err,
  };
}

/** Sleeps, spinning for the last milliseconds: timers are too coarse for kills within a 5 ms operation. */
async function preciseSleep(ms: number): Promise<void> {
  const until = performance.now() + ms;
  if (ms > 20) await sleep(ms - 10);
  while (performance.now() < until) { /* spin */ }
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function hasTemp(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith(".tmp-")) return true;
    }
  } catch { /* not there yet */ }
  return false;
}

// ---------------------------------------------------------------------------
// Fault scenarios

/** One prepared trial of a fault scenario. */
export interface FaultTrial {
  /** The child operation and its arguments. */
  op: string;
  args: unknown;
  /** A point in the middle of the operation (the default tests' one trial). */
  midpoint: Trigger;
  /** The result's final path: some trials are killed the moment it appears. */
  placed?: string;
  /** After the kill: checks the invariants; returns the outcome seen. */
  check(): Promise<string>;
  /** Reruns the operation and checks the vault is whole afterwards. */
  rerun(): Promise<void>;
  /** Sees the child's run before `check()` (its output). */
  observe?(run: ChildRun): void;
}

/** A kind of operation killed at random moments. */
export interface FaultScenario {
  /** Short name, e.g. `writeMetrics`. */
  name: string;
  /** What is killed, for the report. */
  what: string;
  /** Builds the good state in `vault` and returns the trial. */
  prepare(vault: { path: string; specimens: string }): Promise<FaultTrial>;
}

const METRIC_ROWS = 1_500_000;
const TENSOR = { rows: 2048, cols: 8192, block: 64 };

function assertMetricColumns(
  cols: Record<string, ArrayLike<unknown>>,
  rows: number,
) {
  const want = metricColumns(rows);
  for (const name of ["step", "loss", "acc"] as const) {
    const got = cols[name];
    assertEquals(got.length, rows, `${name} has ${got.length} rows`);
    const w = want[name];
    for (let i = 0; i < rows; i++) {
      if (got[i] !== w[i]) {
        throw new Error(`${name}[${i}] is ${got[i]}, expected ${w[i]}`);
      }
    }
  }
}

/** SIGKILL during `storage.writeMetrics()` of a large table. */
export const writeMetricsScenario: FaultScenario = {
  name: "writeMetrics",
  what: `storage.writeMetrics() of ${
    METRIC_ROWS.toLocaleString("en")
  } rows × 3 columns (~25 MB Parquet)`,
  async prepare(vault) {
    const neighbour = await sealedNeighbour(vault.path);
    const { dir, storage } = await activeTarget(vault.path);
    const recorded = storage.artifacts;
    const before = await snapshot(
      vault.path,
      (p) => p.endsWith("target/manifest.msgpack"),
    );
    const strata = join(dir, "strata");
    return {
      op: "write-metrics",
      args: { dir, rows: METRIC_ROWS, name: "metrics" },
      midpoint: { kind: "temp", dir: strata },
      placed: join(strata, "metrics.parquet"),
      async check() {
        const m = await readManifest(dir);
        assertEquals(m.artifacts.baseline, recorded.baseline);
        await assertUnchanged(vault.path, before);
        const s = await SpecimenStorage.open(dir);
        assertEquals(await s.readMetrics("baseline"), BASELINE_READ);
        const visible = listAll(strata).filter((p) => !isHidden(p));
        const placed = visible.includes("metrics.parquet");
        assertEquals(
          visible,
          placed
            ? ["baseline.parquet", "metrics.parquet"]
            : ["baseline.parquet"],
        );
        await assertNeighbourOk(neighbour);
        if (!placed) {
          assert(!("metrics" in m.artifacts), "a record without its file");
          return "absent";
        }
        assertMetricColumns(await s.readMetrics("metrics"), METRIC_ROWS);
        if (!("metrics" in m.artifacts)) return "complete, not yet recorded";
        assertEquals(m.artifacts.metrics.rows, METRIC_ROWS);
        return "complete";
      },
      async rerun() {
        const s = await SpecimenStorage.open(dir);
        if (!(await exists(join(strata, "metrics.parquet")))) {
          await s.writeMetrics(metricColumns(METRIC_ROWS));
        } else {
          await assertRejects(
            () => s.writeMetrics({ step: [0] }),
            ImmutableArtifactError,
          );
        }
        assertMetricColumns(await s.readMetrics("metrics"), METRIC_ROWS);
        await s.writeMetrics({ step: [1] }, { name: "after" });
        await assertSealsClean(dir);
        await assertNeighbourOk(neighbour);
      },
    };
  },
};

const BASELINE_READ = { step: [0, 1, 2], loss: [1, 0.5, 0.25] };

/** SIGKILL during a streaming `storage.createTensor()` write. */
export const writeTensorScenario: FaultScenario = {
  name: "writeTensor",
  what:
    `streaming storage.createTensor() of ${TENSOR.rows} × ${TENSOR.cols} float32 (64 MB) in ${TENSOR.block}-row blocks`,
  async prepare(vault) {
    const neighbour = await sealedNeighbour(vault.path);
    const { dir, storage } = await activeTarget(vault.path);
    const recorded = storage.artifacts;
    const before = await snapshot(
      vault.path,
      (p) => p.endsWith("target/manifest.msgpack"),
    );
    const strata = join(dir, "strata");
    const check = async (s: SpecimenStorage) => {
      const { data, shape } = await s.readTensor("acts");
      assertEquals(shape, [TENSOR.rows, TENSOR.cols]);
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== tensorValue(i)) {
          throw new Error(
            `acts[${i}] is ${data[i]}, expected ${tensorValue(i)}`,
          );
        }
      }
    };
    return {
      op: "write-tensor",
      args: { dir, name: "acts", ...TENSOR },
      midpoint: { kind: "line", text: "MARK half" },
      placed: join(strata, "acts.zarr"),
      async check() {
        const m = await readManifest(dir);
        assertEquals(m.artifacts.baseline, recorded.baseline);
        await assertUnchanged(vault.path, before);
        const s = await SpecimenStorage.open(dir);
        assertEquals(await s.readMetrics("baseline"), BASELINE_READ);
        const visible = [...Deno.readDirSync(strata)].map((e) => e.name)
          .filter((n) => !n.startsWith(".")).sort();
        const placed = visible.includes("acts.zarr");
        assertEquals(
          visible,
          placed ? ["acts.zarr", "baseline.parquet"] : ["baseline.parquet"],
        );
        await assertNeighbourOk(neighbour);
        if (!placed) {
          assert(!("acts" in m.artifacts), "a record without its array");
          return "absent";
        }
        await check(s);
        if (!("acts" in m.artifacts)) return "complete, not yet recorded";
        assertEquals(m.artifacts.acts.shape, [TENSOR.rows, TENSOR.cols]);
        return "complete";
      },
      async rerun() {
        const s = await SpecimenStorage.open(dir);
        if (!(await exists(join(strata, "acts.zarr")))) {
          const data = new Float32Array(TENSOR.rows * TENSOR.cols);
          for (let i = 0; i < data.length; i++) data[i] = tensorValue(i);
          await s.writeTensor("acts", data, {
            shape: [TENSOR.rows, TENSOR.cols],
          });
        } else {
          await assertRejects(
            () => s.writeTensor("acts", new Float32Array(1), { shape: [1] }),
            ImmutableArtifactError,
          );
        }
        await check(s);
        await assertSealsClean(dir);
        await assertNeighbourOk(neighbour);
      },
    };
  },
};

/** SIGKILL during `createSpecimen()`. */
export const createScenario: FaultScenario = {
  name: "create",
  what: "createSpecimen() (temp folder, manifest, templates, rename)",
  async prepare(vault) {
    const neighbour = await sealedNeighbour(vault.path);
    const before = await snapshot(vault.path);
    const dir = join(vault.specimens, "fresh");
    const complete = async () => {
      const m = await readManifest(dir);
      assertEquals(m.specimen_id, "fresh");
      assertEquals(m.tags, ["fault"]);
      assertEquals(
        listAll(dir).filter((p) => !isHidden(p)),
        ["field_notes.md", "manifest.msgpack", "protocol.ts"],
      );
      assert((await Deno.stat(join(dir, "strata"))).isDirectory);
    };
    return {
      op: "create",
      args: { vault: vault.path, id: "fresh" },
      midpoint: { kind: "delay", ms: 2 },
      placed: dir,
      async check() {
        await assertUnchanged(vault.path, before);
        await assertNeighbourOk(neighbour);
        const visible = [...Deno.readDirSync(vault.specimens)]
          .map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
        if (!visible.includes("fresh")) {
          assertEquals(visible, ["neighbour"]);
          return "absent";
        }
        assertEquals(visible, ["fresh", "neighbour"]);
        await complete();
        return "complete";
      },
      async rerun() {
        const options = {
          vault: vault.path,
          id: "fresh",
          domain: "training",
          method: "fine_tuning",
          tags: ["fault"],
        };
        if (await exists(dir)) {
          await assertRejects(
            () => createSpecimen(options),
            SpecimenExistsError,
          );
        } else {
          await createSpecimen(options);
        }
        await complete();
        assertEquals(tempLeftovers(vault.specimens), []);
        await assertNeighbourOk(neighbour);
      },
    };
  },
};

const INDEX_OLD = 60;
const INDEX_NEW = 30;
const INDEX_STEPS = 1000;

async function catalogCounts(vault: string) {
  const { VaultQuery } = await import("../../../lib/query/vault_query.ts");
  using q = await VaultQuery.open({ vault });
  const [r] = await q.search(
    `SELECT (SELECT count(*) FROM catalog) AS s, (SELECT count(*) FROM metrics) AS m,
            (SELECT value FROM vault_info WHERE key = 'specimens') AS v`,
  );
  return r as { s: number; m: number; v: string };
}

/** SIGKILL during `indexVault()` (a full rebuild). */
export const indexScenario: FaultScenario = {
  name: "index",
  what: `indexVault({ full: true }) of ${
    INDEX_OLD + INDEX_NEW
  } specimens × ${INDEX_STEPS} rows over an older catalog of ${INDEX_OLD}`,
  async prepare(vault) {
    const { indexVault } = await import("../../../lib/catalog/index_vault.ts");
    await generateVault(vault.path, {
      specimens: INDEX_OLD,
      steps: INDEX_STEPS,
    });
    await indexVault({ vault: vault.path });
    await generateVault(vault.path, {
      specimens: INDEX_NEW,
      steps: INDEX_STEPS,
      first: INDEX_OLD,
    });
    const specimens = await snapshot(vault.specimens);
    const oldCatalog = await sha256File(join(vault.path, "vault.duckdb"));
    return {
      op: "index",
      args: { vault: vault.path },
      midpoint: { kind: "temp", dir: vault.path },
      async check() {
        await assertUnchanged(vault.specimens, specimens);
        assert(
          !(await exists(join(vault.path, "vault.duckdb.wal"))),
          "a WAL beside the catalog",
        );
        // The sidecars (fingerprints, function list) may be there or not:
        // the fingerprints are removed before the catalog is replaced and
        // written after, and tied to the catalog file they describe.
        const sidecars = [
          "vault.duckdb.fingerprints",
          "vault.duckdb.functions",
        ];
        const visible = [...Deno.readDirSync(vault.path)].map((e) => e.name)
          .filter((n) => !n.startsWith(".") && !sidecars.includes(n)).sort();
        assertEquals(visible, [
          "specimens",
          "vault.duckdb",
          "vault.duckdb.lock",
        ]);
        const now = await sha256File(join(vault.path, "vault.duckdb"));
        const c = await catalogCounts(vault.path);
        if (now.sha256 === oldCatalog.sha256) {
          assertEquals(c, {
            s: INDEX_OLD,
            m: INDEX_OLD * INDEX_STEPS,
            v: String(INDEX_OLD),
          });
          return "old catalog";
        }
        const all = INDEX_OLD + INDEX_NEW;
        assertEquals(c, { s: all, m: all * INDEX_STEPS, v: String(all) });
        return "new catalog";
      },
      async rerun() {
        const { indexVault } = await import(
          "../../../lib/catalog/index_vault.ts"
        );
        await indexVault({ vault: vault.path });
        const all = INDEX_OLD + INDEX_NEW;
        assertEquals(await catalogCounts(vault.path), {
          s: all,
          m: all * INDEX_STEPS,
          v: String(all),
        });
        assertEquals(tempLeftovers(vault.path), []);
        await assertUnchanged(vault.specimens, specimens);
      },
    };
  },
};

const SPARE_OLD = 40;

/** Catalog rows, metric rows, specimens with metrics, and the recorded count. */
async function spareCounts(vault: string) {
  const { VaultQuery } = await import("../../../lib/query/vault_query.ts");
  using q = await VaultQuery.open({ vault });
  const [r] = await q.search(
    `SELECT (SELECT count(*) FROM catalog) AS s, (SELECT count(*) FROM metrics) AS m,
            (SELECT count(DISTINCT specimen_id) FROM metrics) AS d,
            (SELECT value FROM vault_info WHERE key = 'specimens') AS v`,
  );
  return r as { s: number; m: number; d: number; v: string };
}

const spareExpect = (n: number) => ({
  s: n,
  m: n * INDEX_STEPS,
  d: n,
  v: String(n),
});

/**
 * SIGKILL during an incremental index that updates the spare catalog in
 * place (`lib/catalog/_spare.ts`): the catalog stays the old one or becomes
 * the new one, and the indexes after it (on a spare or a copy) still build
 * what a full index builds.
 */
export const indexSpareScenario: FaultScenario = {
  name: "index +2 (spare)",
  what:
    `indexVault() of 2 new specimens over ${SPARE_OLD} × ${INDEX_STEPS} rows, updating the spare catalog in place`,
  async prepare(vault) {
    const { indexVault } = await import("../../../lib/catalog/index_vault.ts");
    const add = (n: number, first: number) =>
      generateVault(vault.path, { specimens: n, steps: INDEX_STEPS, first });
    await add(SPARE_OLD, 0);
    await indexVault({ vault: vault.path });
    await add(1, SPARE_OLD);
    await indexVault({ vault: vault.path }); // the first catalog is the spare
    assert(
      await exists(join(vault.path, ".vault.duckdb.spare.json")),
      "no spare catalog recorded",
    );
    await add(2, SPARE_OLD + 1);
    const specimens = await snapshot(vault.specimens);
    const oldCatalog = await sha256File(join(vault.path, "vault.duckdb"));
    return {
      op: "index-incremental",
      args: { vault: vault.path },
      midpoint: { kind: "temp", dir: vault.path },
      async check() {
        await assertUnchanged(vault.specimens, specimens);
        assert(
          !(await exists(join(vault.path, "vault.duckdb.wal"))),
          "a WAL beside the catalog",
        );
        const now = await sha256File(join(vault.path, "vault.duckdb"));
        const c = await spareCounts(vault.path);
        if (now.sha256 === oldCatalog.sha256) {
          assertEquals(c, spareExpect(SPARE_OLD + 1));
          return "old catalog";
        }
        assertEquals(c, spareExpect(SPARE_OLD + 3));
        return "new catalog";
      },
      async rerun() {
        const { indexVault } = await import(
          "../../../lib/catalog/index_vault.ts"
        );
        await indexVault({ vault: vault.path });
        assertEquals(await spareCounts(vault.path), spareExpect(SPARE_OLD + 3));
        // Two more indexes, each one specimen more: whichever catalog the
        // kill left as the spare, each builds the whole vault.
        for (const n of [SPARE_OLD + 3, SPARE_OLD + 4]) {
          await add(1, n);
          const r = await indexVault({ vault: vault.path });
          assertEquals([r.mode, r.read], ["incremental", 1]);
          assertEquals(await spareCounts(vault.path), spareExpect(n + 1));
        }
        assertEquals(tempLeftovers(vault.path), []);
      },
    };
  },
};

const VERIFY_VALUES = 16 * 1024 * 1024; // 64 MB uncompressed

/** SIGKILL during `verifyVault()` hashing a 64 MB file. */
export const verifyScenario: FaultScenario = {
  name: "verify",
  what:
    "verifyVault() hashing two sealed specimens, one with a 64 MB chunk file",
  async prepare(vault) {
    await sealedNeighbour(vault.path);
    const { dir, storage } = await activeTarget(vault.path, "big");
    const data = new Float32Array(VERIFY_VALUES);
    for (let i = 0; i < data.length; i++) data[i] = i;
    await storage.writeTensor("big", data, {
      shape: [VERIFY_VALUES],
      chunks: [VERIFY_VALUES],
      compression: "none",
    });
    await sealSpecimen(dir);
    const before = await snapshot(vault.path);
    const listing = listAll(vault.path);
    return {
      op: "verify",
      args: { vault: vault.path },
      midpoint: { kind: "line", text: "MARK hashing" },
      async check() {
        await assertUnchanged(vault.path, before);
        assertEquals(listAll(vault.path), listing, "verify wrote something");
        return "unchanged";
      },
      async rerun() {
        const results = await verifyVault({ vault: vault.path });
        assertEquals(results.map((r) => [r.id, r.state]), [
          ["big", "ok"],
          ["neighbour", "ok"],
        ]);
      },
    };
  },
};

const LOG = { rows: 300_000, flushRows: 20_000 };

/** Rows the child reported on disk (MARK lines come after each part is). */
function flushedRows(lines: string[]): number {
  let n = 0;
  for (const l of lines) {
    const m = /^MARK flushed (\d+)$/.exec(l);
    if (m) n = Math.max(n, Number(m[1]));
  }
  return n;
}

/** SIGKILL during a `MetricsLogger` run (log, flush, close, compaction). */
export const loggerScenario: FaultScenario = {
  name: "logger",
  what: `storage.logger() logging ${
    LOG.rows.toLocaleString("en")
  } rows, a part every ${
    LOG.flushRows.toLocaleString("en")
  }, then close() (compaction)`,
  async prepare(vault) {
    const neighbour = await sealedNeighbour(vault.path);
    const { dir, storage } = await activeTarget(vault.path);
    const recorded = storage.artifacts;
    const before = await snapshot(
      vault.path,
      (p) => p.endsWith("target/manifest.msgpack"),
    );
    const strata = join(dir, "strata");
    let lines: string[] = [];
    let onDisk = 0;
    const assertPrefix = (
      cols: Record<string, ArrayLike<unknown>>,
      min: number,
    ) => {
      const n = cols.step.length;
      assert(n >= min, `${n} rows on disk, but ${min} were reported flushed`);
      assert(n <= LOG.rows, `${n} rows: more than were logged`);
      for (let i = 0; i < n; i++) {
        if (cols.step[i] !== i || cols.loss[i] !== 1 / (i + 1)) {
          throw new Error(
            `row ${i} is step ${cols.step[i]}, loss ${cols.loss[i]}`,
          );
        }
      }
      return n;
    };
    return {
      op: "log",
      args: { dir, name: "train", ...LOG },
      midpoint: { kind: "line", text: `MARK flushed ${LOG.flushRows * 5}` },
      placed: join(strata, "train.parquet"),
      observe(run: ChildRun) {
        lines = run.lines;
      },
      async check() {
        const m = await readManifest(dir);
        assertEquals(m.artifacts.baseline, recorded.baseline);
        await assertUnchanged(vault.path, before);
        await assertNeighbourOk(neighbour);
        const s = await SpecimenStorage.open(dir);
        assertEquals(await s.readMetrics("baseline"), BASELINE_READ);
        const visible = [...Deno.readDirSync(strata)].map((e) => e.name)
          .filter((n) => !n.startsWith(".")).sort();
        const flushed = flushedRows(lines);
        const file = visible.includes("train.parquet");
        const parts = visible.includes("train.parts");
        assertEquals(
          visible.filter((n) => n !== "train.parquet" && n !== "train.parts"),
          ["baseline.parquet"],
        );
        let cols;
        try {
          cols = await s.readMetrics("train");
        } catch (e) {
          assert(!file && flushed === 0, `the table is unreadable: ${e}`);
          assert(!("train" in m.artifacts), "a record without its table");
          return "no part yet";
        }
        onDisk = assertPrefix(cols, flushed);
        if (file) {
          assertEquals(onDisk, LOG.rows, "a compacted table lacks rows");
          if (!("train" in m.artifacts)) return "compacted, not yet recorded";
          return parts
            ? "compacted and recorded, parts not yet removed"
            : "complete";
        }
        assert(!("train" in m.artifacts), "a record without its table");
        return "interrupted log (parts)";
      },
      async rerun() {
        const { repairLogs } = await import(
          "../../../lib/metrics_log/table.ts"
        );
        const report = await repairLogs(dir);
        assertEquals(report.problems, []);
        assertEquals(report.live, []);
        const s = await SpecimenStorage.open(dir);
        if (onDisk > 0) {
          // Repair keeps every row that was on disk.
          assertEquals(
            assertPrefix(await s.readMetrics("train"), onDisk),
            onDisk,
          );
          assertEquals((await readManifest(dir)).artifacts.train.rows, onDisk);
        } else {
          // Nothing was flushed: the table may be logged again from scratch.
          await using log = await s.logger("train");
          log.log({ step: 0, loss: 1 });
        }
        assertEquals(
          [...Deno.readDirSync(strata)].map((e) => e.name).filter((n) =>
            n.endsWith(".parts")
          ),
          [],
        );
        await s.writeMetrics({ step: [1] }, { name: "after" });
        await assertSealsClean(dir);
        await assertNeighbourOk(neighbour);
      },
    };
  },
};

/** Every fault scenario whose library code exists now. */
export const FAULT_SCENARIOS: FaultScenario[] = [
  writeMetricsScenario,
  writeTensorScenario,
  loggerScenario,
  createScenario,
  indexScenario,
  indexSpareScenario,
  verifyScenario,
];

/** What one trial saw. */
export interface TrialResult {
  /** The kill came before the operation finished. */
  killed: boolean;
  /** What `check()` found, e.g. `absent`, `complete`. */
  outcome: string;
  /** The operation's length when it ran to the end. */
  opMs: number | null;
}

/**
 * One trial in a fresh vault: prepare, run the child and kill it at
 * `trigger` (default: the scenario's midpoint), check, rerun. The vault is
 * removed afterwards unless `keep` and the trial failed.
 */
export async function runFaultTrial(
  scenario: FaultScenario,
  trigger?: Trigger | ((trial: FaultTrial) => Trigger),
  options: { keep?: boolean } = {},
): Promise<TrialResult> {
  const vault = await freshVault();
  let ok = false;
  try {
    const trial = await scenario.prepare(vault);
    const when = typeof trigger === "function" ? trigger(trial) : trigger;
    const run = await runChild(trial.op, trial.args, when ?? trial.midpoint);
    trial.observe?.(run);
    const outcome = await trial.check();
    await trial.rerun();
    ok = true;
    return { killed: run.killed, outcome, opMs: run.opMs };
  } catch (e) {
    if (options.keep && e instanceof Error) {
      e.message += ` (vault kept at ${vault.path})`;
    }
    throw e;
  } finally {
    if (ok || !options.keep) await vault[Symbol.asyncDispose]();
  }
}

/** What a loop of trials found. */
export interface LoopReport {
  name: string;
  what: string;
  trials: number;
  /** Trials where the kill landed before the operation finished. */
  killed: number;
  /** Outcome → count. */
  outcomes: Record<string, number>;
  /** The longest kill delay drawn (ms after READY). */
  maxDelayMs: number;
  failures: string[];
  ms: number;
}

/**
 * `trials` trials of `scenario`: the first runs uncut to measure the
 * operation; the others are killed after a random delay from 0 to 1.25 ×
 * its length (the median of the trials that finished), or from 0.8 to 1.15 ×
 * it, or the moment the result appears under its real name.
 */
export async function runKillLoop(
  scenario: FaultScenario,
  trials: number,
  onTrial?: (i: number, r: TrialResult | Error) => void,
): Promise<LoopReport> {
  const started = performance.now();
  const report: LoopReport = {
    name: scenario.name,
    what: scenario.what,
    trials: 0,
    killed: 0,
    outcomes: {},
    maxDelayMs: 0,
    failures: [],
    ms: 0,
  };
  // The operation's length, as measured by the trials that ran to the end.
  const lengths: number[] = [];
  const span = () =>
    lengths.length ? lengths.sort((a, b) => a - b)[lengths.length >> 1] : 100;
  for (let i = 0; i < trials; i++) {
    // A third of the kills anywhere in the operation, a third in its last
    // stretch, a third the moment its result appears under the real name
    // (between placing a file and recording it in the manifest).
    const d = i === 0 ? 0 : span();
    const ms = i % 3 === 2
      ? d * (0.8 + Math.random() * 0.35)
      : Math.random() * d * 1.25;
    const trigger = (trial: FaultTrial): Trigger =>
      i === 0
        ? { kind: "never" }
        : i % 3 === 0 && trial.placed
        ? { kind: "file", path: trial.placed }
        : { kind: "delay", ms };
    try {
      const r = await runFaultTrial(scenario, trigger, { keep: true });
      if (r.opMs !== null) lengths.push(r.opMs);
      if (i > 0) report.maxDelayMs = Math.max(report.maxDelayMs, ms);
      report.trials++;
      if (r.killed) report.killed++;
      const label = r.killed
        ? r.outcome
        : `${r.outcome} (finished before the kill)`;
      report.outcomes[label] = (report.outcomes[label] ?? 0) + 1;
      onTrial?.(i, r);
    } catch (e) {
      report.trials++;
      report.failures.push(`trial ${i + 1}: ${(e as Error).message}`);
      onTrial?.(i, e as Error);
    }
  }
  report.ms = performance.now() - started;
  return report;
}

// ---------------------------------------------------------------------------
// Concurrency scenarios

/** What one round of a race saw: a fixed label, and counts to add up. */
export interface RaceOutcome {
  label: string;
  counts?: Record<string, number>;
}

/** A race run as real processes; `run` throws when an invariant breaks. */
export interface ConcurrencyScenario {
  name: string;
  what: string;
  run(vault: { path: string; specimens: string }): Promise<RaceOutcome>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Output of a finished subprocess. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function output(child: Deno.ChildProcess): Promise<Output> {
  const o = await child.output();
  const dec = new TextDecoder();
  return {
    code: o.code,
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
  };
}

/** The task permissions of deno.json, so races run as users run them. */
const TASK_FLAGS: Record<string, string[]> = {
  create: ["--allow-read", "--allow-write", "--allow-env=SPECIMEN_VAULT"],
  index: [
    "--allow-read",
    "--allow-write",
    "--allow-ffi",
    "--allow-env",
    "--allow-sys",
  ],
  query: [
    "--allow-read",
    "--allow-write",
    "--allow-ffi",
    "--allow-env",
    "--allow-sys",
  ],
};

/** `deno run <task flags> tasks/<name>.ts ...args`, spawned. */
export function spawnTask(name: string, args: string[]): Deno.ChildProcess {
  return spawn([
    "run",
    ...(TASK_FLAGS[name] ?? ["-A"]),
    join(ROOT, "tasks", `${name}.ts`),
    ...args,
  ]);
}

function warnings(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("warning:"));
}

/** 8 processes create one id at once. */
export const createRace: ConcurrencyScenario = {
  name: "8 creators, one id",
  what:
    "8 processes run the create task with the same id, released at once from a barrier",
  async run(vault) {
    const neighbour = await sealedNeighbour(vault.path);
    const before = await snapshot(vault.path);
    const go = join(vault.path, ".go");
    const racers = Array.from(
      { length: 8 },
      (_, n) =>
        spawn([
          "run",
          ...TASK_FLAGS.create,
          CHILD,
          "create-task",
          JSON.stringify({
            go,
            argv: [
              "--vault",
              vault.path,
              "--id",
              "contested",
              "--domain",
              "training",
              "--method",
              "fine_tuning",
              "--description",
              `creator ${n}`,
            ],
          }),
        ]),
    );
    // Wait until every racer is at the barrier, then release them together.
    const outputs = racers.map(async (child) => {
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      while (!text.includes("READY\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      return { reader, text };
    });
    const ready = await Promise.all(outputs);
    await Deno.writeFile(go, new Uint8Array());
    const outs = await Promise.all(racers.map(async (child, n) => {
      let text = ready[n].text;
      for (;;) {
        const { value, done } = await ready[n].reader.read();
        if (done) break;
        text += value;
      }
      const stderr = await new Response(child.stderr).text();
      return { code: (await child.status).code, stdout: text, stderr };
    }));
    await Deno.remove(go);
    const winners = outs.flatMap((o, n) => (o.code === 0 ? [n] : []));
    assertEquals(winners.length, 1, outs.map((o) => o.stderr).join("\n"));
    for (const [n, o] of outs.entries()) {
      if (n === winners[0]) continue;
      assertEquals(o.code, 3, o.stderr);
      assert(/Specimen "contested" already exists/.test(o.stderr), o.stderr);
    }
    const m = await readManifest(join(vault.specimens, "contested"));
    assertEquals(m.description, `creator ${winners[0]}`);
    assertEquals(
      [...Deno.readDirSync(vault.specimens)].map((e) => e.name).sort(),
      ["contested", "neighbour"],
    );
    await assertUnchanged(vault.path, before);
    await assertNeighbourOk(neighbour);
    return { label: "one created it, 7 refused with exit 3" };
  },
};

/** 2 indexers at once. */
export const indexerRace: ConcurrencyScenario = {
  name: "2 indexers at once",
  what: "two `deno task index --full` processes start at once on 40 specimens",
  async run(vault) {
    await generateVault(vault.path, { specimens: 40, steps: 200 });
    const specimens = await snapshot(vault.specimens);
    const outs = await Promise.all([
      output(spawnTask("index", ["--vault", vault.path, "--full"])),
      output(spawnTask("index", ["--vault", vault.path, "--full"])),
    ]);
    for (const o of outs) {
      assertEquals(o.code, 0, o.stderr);
      assertEquals(warnings(o.stderr), []);
    }
    assertEquals(await catalogCounts(vault.path), { s: 40, m: 8000, v: "40" });
    assertEquals(tempLeftovers(vault.path), []);
    assert(!(await exists(join(vault.path, "vault.duckdb.wal"))));
    await assertUnchanged(vault.specimens, specimens);
    return { label: "both exit 0, one after the other" };
  },
};

const PROTOCOL_ROWS = 500;
const PROTOCOL_TABLES = [
  "m0",
  "m1",
  "m2",
  "m3",
  "m4",
  "m5",
  "m6",
  "m7",
  "m8",
  "metrics",
];

function raceProtocol(): string {
  return `import { runProtocol } from "specimen-vault";

await runProtocol(import.meta, async (storage) => {
  const step = Array.from({ length: ${PROTOCOL_ROWS} }, (_, i) => i);
  for (const name of ${JSON.stringify(PROTOCOL_TABLES)}) {
    await storage.writeMetrics({ step, loss: step.map((s) => 1 / (s + 1)) }, { name });
    await new Promise((r) => setTimeout(r, 80));
  }
  await storage.writeTensor("acts", new Float32Array(256 * 64).fill(1), { shape: [256, 64] });
});
`;
}

/** 4 protocols write 4 specimens while the index runs again and again. */
export const protocolsWhileIndexing: ConcurrencyScenario = {
  name: "4 protocols while indexing",
  what:
    "4 protocols (`deno run`) each write 10 tables and a tensor while `deno task index` runs in a loop",
  async run(vault) {
    const ids = ["p0", "p1", "p2", "p3"];
    for (const id of ids) {
      await createSpecimen({
        vault: vault.path,
        id,
        domain: "training",
        method: "fine_tuning",
        protocol: raceProtocol(),
      });
    }
    const config = join(ROOT, "deno.json");
    const protocols = ids.map((id) =>
      output(spawn([
        "run",
        "-A",
        "--config",
        config,
        join(vault.specimens, id, "protocol.ts"),
      ]))
    );
    let running = true;
    const finished = Promise.all(protocols).finally(() => running = false);
    let rounds = 0;
    const { VaultQuery } = await import("../../../lib/query/vault_query.ts");
    while (running || rounds < 2) {
      const o = await output(spawnTask("index", ["--vault", vault.path]));
      assertEquals(o.code, 0, o.stderr);
      assertEquals(warnings(o.stderr), [], `index round ${rounds + 1}`);
      rounds++;
      using q = await VaultQuery.open({ vault: vault.path });
      // Whatever moment the index saw, each table it holds is whole.
      const tables = await q.search(
        "SELECT specimen_id, name, rows FROM metric_tables",
      );
      for (const t of tables) {
        assertEquals(t.rows, PROTOCOL_ROWS, JSON.stringify(t));
      }
      // (The union table exists once some specimen has strata/metrics.parquet.)
      const [union] = await q.search(
        "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'metrics'",
      );
      if (union.n === 1) {
        const counts = await q.search(
          "SELECT specimen_id, count(*) AS n FROM metrics GROUP BY ALL",
        );
        for (const c of counts) assertEquals(c.n, PROTOCOL_ROWS);
      }
      if (!running) break;
    }
    for (const o of await finished) assertEquals(o.code, 0, o.stderr);
    const o = await output(spawnTask("index", ["--vault", vault.path]));
    assertEquals(o.code, 0, o.stderr);
    using q = await VaultQuery.open({ vault: vault.path });
    assertEquals(
      await q.search(
        "SELECT specimen_id, status, metrics_rows FROM catalog ORDER BY 1",
      ),
      ids.map((id) => ({
        specimen_id: id,
        status: "sealed",
        metrics_rows: PROTOCOL_ROWS,
      })),
    );
    const [n] = await q.search("SELECT count(*) AS n FROM metric_tables");
    assertEquals(n.n, ids.length * PROTOCOL_TABLES.length);
    const verified = await verifyVault({ vault: vault.path });
    assertEquals(verified.map((r) => r.state), ["ok", "ok", "ok", "ok"]);
    return {
      label:
        "every index run exit 0, every table whole, all 4 sealed and verified",
      counts: { "index runs during the protocols": rounds },
    };
  },
};

/** Queries hammer the catalog while it is rebuilt again and again. */
export const queriesDuringReindex: ConcurrencyScenario = {
  name: "queries during re-indexing",
  what:
    "2 processes query the catalog non-stop while `deno task index --full` rebuilds it (120 ↔ 80 specimens)",
  async run(vault) {
    const { indexVault } = await import("../../../lib/catalog/index_vault.ts");
    const steps = 300;
    await generateVault(vault.path, { specimens: 80, steps });
    const extra = await generateVault(vault.path, {
      specimens: 40,
      steps,
      first: 80,
    });
    await indexVault({ vault: vault.path });
    const hammers = [0, 1].map(() =>
      output(
        spawn([
          "run",
          "-A",
          CHILD,
          "hammer",
          JSON.stringify({ vault: vault.path, ms: 6000 }),
        ]),
      )
    );
    let running = true;
    const done = Promise.all(hammers).finally(() => running = false);
    let rounds = 0;
    while (running) {
      for (const id of extra) {
        const [from, to] = rounds % 2 ? [`.${id}`, id] : [id, `.${id}`];
        await Deno.rename(
          join(vault.specimens, from),
          join(vault.specimens, to),
        );
      }
      const o = await output(
        spawnTask("index", ["--vault", vault.path, "--full"]),
      );
      assertEquals(o.code, 0, o.stderr);
      rounds++;
    }
    const allowed = new Set([
      `120/${120 * steps}/120/0`,
      `80/${80 * steps}/80/0`,
    ]);
    let queries = 0;
    const seen = new Set<string>();
    for (const o of await done) {
      assertEquals(o.code, 0, o.stderr);
      const line = o.stdout.split("\n").find((l) => l.startsWith("RESULT "))!;
      const r = JSON.parse(line.slice(7)) as {
        queries: number;
        seen: Record<string, number>;
        errors: string[];
      };
      assertEquals(r.errors, [], "a query failed during re-indexing");
      for (const key of Object.keys(r.seen)) {
        assert(allowed.has(key), `a query saw a partial catalog: ${key}`);
        seen.add(key);
      }
      queries += r.queries;
    }
    assert(rounds >= 2, `only ${rounds} index rounds ran`);
    return {
      label: `no query failed, each saw the old or the new catalog`,
      counts: { queries, rebuilds: rounds, "states seen": seen.size },
    };
  },
};

/** Loggers racing for one table. */
export const loggerRace: ConcurrencyScenario = {
  name: "3 loggers on one table",
  what:
    "3 processes open a MetricsLogger on the same table at once, log 250 rows, hold it 0-150 ms and close",
  async run(vault) {
    const { dir } = await createSpecimen({
      vault: vault.path,
      id: "contested_log",
      domain: "training",
      method: "fine_tuning",
      extra: { provenance: PROVENANCE_STUB },
    });
    const go = join(vault.path, ".go");
    const racers = Array.from({ length: 3 }, () =>
      spawn([
        "run",
        "-A",
        CHILD,
        "log-race",
        JSON.stringify({
          dir,
          go,
          name: "train",
          rows: 250,
          holdMs: Math.floor(Math.random() * 150),
        }),
      ]));
    const readers = racers.map(async (child) => {
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      while (!text.includes("READY\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      return { reader, text };
    });
    const ready = await Promise.all(readers);
    await Deno.writeFile(go, new Uint8Array());
    const outs = await Promise.all(racers.map(async (child, n) => {
      let text = ready[n].text;
      for (;;) {
        const { value, done } = await ready[n].reader.read();
        if (done) break;
        text += value;
      }
      const stderr = await new Response(child.stderr).text();
      const line = text.split("\n").find((l) => l.startsWith("RESULT "));
      return {
        code: (await child.status).code,
        stderr,
        result: line ? JSON.parse(line.slice(7)) : null,
      };
    }));
    await Deno.remove(go);
    const all = JSON.stringify(outs);
    for (const o of outs) {
      assertEquals(o.code, 0, all);
      assert(o.result !== null, all);
    }
    const winners = outs.filter((o) => o.result.stage === "closed");
    assertEquals(winners.length, 1, all);
    assertEquals(winners[0].result.rows, 250, all);
    let busy = 0;
    for (const o of outs) {
      if (o === winners[0]) continue;
      // The loser is refused at open(), with the truth: the table is
      // being written, or (if the winner closed meanwhile) it exists.
      assertEquals(o.result.stage, "open", all);
      assert(!/os error|interrupted log/i.test(o.result.message), all);
      if (/is being written by another logger/.test(o.result.message)) busy++;
      else {
        assert(
          /Artifact "train" of specimen "contested_log" already exists/
            .test(o.result.message),
          all,
        );
      }
    }
    const m = await readManifest(dir);
    assertEquals(m.artifacts.train?.rows, 250);
    assert(!(await exists(join(dir, "strata", "train.parts"))), all);
    const left = [...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name);
    assertEquals(left, ["train.parquet"], all);
    return {
      label: "one logger won; the others were refused clearly",
      counts: { "refused: being written": busy, "refused: exists": 2 - busy },
    };
  },
};

/** Every concurrency scenario. */
export const CONCURRENCY_SCENARIOS: ConcurrencyScenario[] = [
  createRace,
  indexerRace,
  loggerRace,
  protocolsWhileIndexing,
  queriesDuringReindex,
  adoptRaceScenario,
  ...EXEC_RACES,
  wideTables,
  importRace,
];

/** Runs `scenario` once in a fresh vault (kept when `keep` and it fails). */
export async function runConcurrencyTrial(
  scenario: ConcurrencyScenario,
  options: { keep?: boolean } = {},
): Promise<RaceOutcome> {
  const vault = await freshVault();
  let ok = false;
  try {
    const r = await scenario.run(vault);
    ok = true;
    return r;
  } catch (e) {
    if (options.keep && e instanceof Error) {
      e.message += ` (vault kept at ${vault.path})`;
    }
    throw e;
  } finally {
    if (ok || !options.keep) await vault[Symbol.asyncDispose]();
  }
}
