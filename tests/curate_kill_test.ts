// Kill loops and races of the curating tasks: real processes, SIGKILL at
// named steps (the SPECIMEN_VAULT_TEST_PAUSE hook stops a process there and
// says so on stderr: no timing), then the invariant: each specimen is
// wholly in place or wholly in the trash (or, for `trash empty`, gone from
// both and cleaned by the next empty), and still matches its seal.
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import { PAUSE_ENV } from "../lib/curate/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const TRIALS = 3;

async function sealed(vault: string, id: string): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [3, 2, 1] });
  await storage.writeTensor(
    "w",
    Float32Array.from({ length: 256 }, (_, i) => i),
    {
      shape: [16, 16],
      chunks: [4, 16],
      compression: "none",
    },
  );
  await sealSpecimen(dir);
  return dir;
}

/** Starts a task paused at `point`; resolves once it says it is there. */
async function startPaused(
  name: string,
  args: string[],
  point: string,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    // The task's own flags, with the hook's variable readable.
    args: [
      "run",
      ...(await taskFlags(name)).map((f) =>
        f.startsWith("--allow-env=") ? `${f},${PAUSE_ENV}` : f
      ),
      join(ROOT, "tasks", `${name}.ts`),
      ...args,
    ],
    env: { NO_COLOR: "1", [PAUSE_ENV]: point },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(`paused at ${point}`)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} ended before ${point}: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
  child.stderr.cancel().catch(() => {});
  return child;
}

async function kill(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  const status = await child.status;
  assertEquals(status.signal, "SIGKILL");
}

async function where(
  vault: string,
  id: string,
): Promise<"place" | "trash" | "gone"> {
  const inPlace = await Deno.lstat(join(vault, "specimens", id)).then(
    () => true,
    () => false,
  );
  const inTrash = await Deno.lstat(join(vault, "trash", id)).then(
    () => true,
    () => false,
  );
  assert(!(inPlace && inTrash), `${id} is in both places`);
  if (inPlace) {
    assertEquals(
      (await verifySpecimen(join(vault, "specimens", id))).state,
      "ok",
    );
    return "place";
  }
  if (inTrash) {
    assertEquals((await verifySpecimen(join(vault, "trash", id))).state, "ok");
    return "trash";
  }
  return "gone";
}

async function task(name: string, args: string[], vault: string) {
  return await runDeno([
    "run",
    ...(await taskFlags(name)),
    join(ROOT, "tasks", `${name}.ts`),
    ...args,
    "--vault",
    vault,
  ]);
}

Deno.test("SIGKILL at each step of discard, restore and empty leaves each specimen wholly in place or wholly in the trash", async (t) => {
  const points: [
    string,
    "discard" | "restore" | "empty",
    "place" | "trash" | "gone",
  ][] = [
    ["discard:before-rename", "discard", "place"],
    ["discard:after-rename", "discard", "trash"],
    ["restore:before-rename", "restore", "trash"],
    ["restore:after-rename", "restore", "place"],
    ["empty:after-rename", "empty", "gone"],
    ["empty:mid-delete", "empty", "gone"],
  ];
  for (const [point, op, expected] of points) {
    await t.step(point, async () => {
      for (let trial = 0; trial < TRIALS; trial++) {
        await using vault = await tempVault();
        await sealed(vault.path, "s");
        await sealed(vault.path, "other");
        if (op !== "discard") {
          assertEquals(
            (await task("discard", ["s", "other"], vault.path)).code,
            0,
          );
        }
        const args = op === "discard"
          ? ["discard", ["s", "--vault", vault.path]]
          : op === "restore"
          ? ["trash", ["restore", "s", "--vault", vault.path]]
          : ["trash", ["empty", "s", "--vault", vault.path]];
        await kill(
          await startPaused(args[0] as string, args[1] as string[], point),
        );
        assertEquals(await where(vault.path, "s"), expected);
        // The other specimen is untouched.
        assertEquals(
          await where(vault.path, "other"),
          op === "discard" ? "place" : "trash",
        );
        // The tools carry on from there.
        const list = await task(
          "trash",
          ["list", "--format", "json"],
          vault.path,
        );
        assertEquals(list.code, 0, list.stderr);
        const listed = JSON.parse(list.stdout).specimens.map((
          e: { id: string },
        ) => e.id);
        assertEquals(listed.includes("s"), expected === "trash");
        if (expected === "place") {
          assertEquals((await task("discard", ["s"], vault.path)).code, 0);
        } else if (expected === "trash") {
          assertEquals(
            (await task("trash", ["restore", "s"], vault.path)).code,
            0,
          );
          assertEquals(await where(vault.path, "s"), "place");
        } else {
          const e = await task(
            "trash",
            ["empty", "--format", "json"],
            vault.path,
          );
          assertEquals(e.code, 0, e.stderr);
          const r = JSON.parse(e.stdout);
          assertEquals(r.finished, 1, "the interrupted deletion is finished");
          assertEquals(r.deleted.map((d: { id: string }) => d.id), ["other"]);
          const left = [...Deno.readDirSync(join(vault.path, "trash"))];
          assertEquals(left.map((x) => x.name), [".lock"]);
        }
      }
    });
  }
});

Deno.test("two discards of one specimen: one wins, the other is told with its exit code", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "s");
  // The first holds the specimen (paused just before its rename).
  const first = await startPaused("discard", [
    "s",
    "--reason",
    "first",
    "--vault",
    vault.path,
  ], "discard:before-rename");
  const second = await task("discard", ["s", "--reason", "second"], vault.path);
  assertEquals(second.code, 8, second.stderr);
  assertMatch(second.stderr, /another process is changing it/);
  await kill(first);
  assertEquals(await where(vault.path, "s"), "place");

  // Racing for real, a few rounds: exactly one wins each time.
  for (let round = 0; round < 4; round++) {
    const [a, b] = await Promise.all([
      task("discard", ["s", "--reason", "a"], vault.path),
      task("discard", ["s", "--reason", "b"], vault.path),
    ]);
    const codes = [a.code, b.code].sort();
    assertEquals(codes[0], 0, a.stderr + b.stderr);
    assert(
      codes[1] === 3 || codes[1] === 8,
      `loser exited ${codes[1]}: ${a.stderr}${b.stderr}`,
    );
    assertEquals(await where(vault.path, "s"), "trash");
    const rec = JSON.parse(
      await Deno.readTextFile(join(vault.path, "trash", "s.discard.json")),
    );
    assertEquals(
      rec.reason,
      a.code === 0 ? "a" : "b",
      "the record is the winner's",
    );
    assertEquals((await task("trash", ["restore", "s"], vault.path)).code, 0);
  }
});

/** SIGKILL, unless the process already ended (a late landing). */
function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
}

/** A small seeded generator (mulberry32): the same delays on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("SIGKILL at seeded random moments of a discard of several specimens, then of an empty: the invariant holds for each", async () => {
  const random = rng(26);
  const ids = ["k1", "k2", "k3", "k4"];
  for (let trial = 0; trial < 4; trial++) {
    await using vault = await tempVault();
    for (const id of ids) await sealed(vault.path, id);
    // The delay only varies where the kill lands; any landing must be safe.
    const spawn = async (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...(await taskFlags(args[0])),
          join(ROOT, "tasks", `${args[0]}.ts`),
          ...args.slice(1),
          "--vault",
          vault.path,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
    const d = await spawn(["discard", ...ids]);
    await new Promise((r) => setTimeout(r, Math.floor(random() * 400)));
    killIfRunning(d);
    await d.status;
    const states: string[] = [];
    for (const id of ids) states.push(await where(vault.path, id));
    assert(states.every((s) => s === "place" || s === "trash"), `${states}`);
    // Everything left in place can be discarded now; then a killed empty.
    const left = ids.filter((_, i) => states[i] === "place");
    if (left.length) {
      assertEquals((await task("discard", left, vault.path)).code, 0);
    }
    const e = await spawn(["trash", "empty"]);
    await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
    killIfRunning(e);
    await e.status;
    for (const id of ids) {
      const s = await where(vault.path, id);
      assert(s === "trash" || s === "gone", `${id}: ${s}`);
    }
    const again = await task("trash", ["empty"], vault.path);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(
      [...Deno.readDirSync(join(vault.path, "trash"))].map((x) => x.name),
      [".lock"],
    );
  }
});
