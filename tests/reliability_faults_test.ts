/**
 * Faults: SIGKILL during every writing operation (one trial each here; the
 * long random loops run under `deno task stress`), a full disk, a
 * file-size limit, a read-only vault, and a specimen the user may not read.
 * See docs/RELIABILITY.md for the table of cases and guarantees.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { VaultError } from "../lib/errors.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { repairLogs } from "../lib/metrics_log/table.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  activeTarget,
  assertUnchanged,
  FAULT_SCENARIOS,
  freshVault,
  isHidden,
  listAll,
  runChild,
  runFaultTrial,
  sealedNeighbour,
  snapshot,
  tempLeftovers,
} from "./_tools/stress/stress.ts";
import { metricColumns } from "./_fault_child.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runTask,
} from "./utils.ts";

// ---------------------------------------------------------------------------
// SIGKILL: one trial of each scenario, killed at a point inside the operation.

for (const scenario of FAULT_SCENARIOS) {
  Deno.test(`SIGKILL during ${scenario.name} keeps the previous state, shows nothing partial, and a rerun succeeds`, async () => {
    const r = await runFaultTrial(scenario);
    // create is too quick to be sure the kill lands inside it; the others
    // are killed at a point reached only mid-operation.
    if (scenario.name !== "create" && scenario.name !== "writeMetrics") {
      assert(r.killed, `the ${scenario.name} finished before the kill`);
    }
  });
}

Deno.test("a protocol killed during its first write may run again: temp leftovers are not results", async () => {
  await using v = await freshVault();
  const { dir } = await createSpecimen({
    vault: v.path,
    id: "interrupted",
    domain: "training",
    method: "fine_tuning",
    protocol: `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  const w = await storage.createTensor("acts", { shape: [1024, 4096], dtype: "float32" });
  const block = new Float32Array(64 * 4096).fill(1);
  for (let r = 0; r < 1024; r += 64) {
    await w.write(block);
    if (r === 512 && Deno.env.get("MARK")) console.log("MARK half");
  }
  await w.close();
});
`,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      join(dir, "protocol.ts"),
    ],
    env: { MARK: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("MARK half")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  child.kill("SIGKILL");
  assertEquals((await child.status).signal, "SIGKILL");
  await reader.cancel();
  assert(tempLeftovers(dir).length > 0, "the kill came after the write");
  assertEquals((await readManifest(dir)).status, "running");

  const r = await runTask("run", ["interrupted"], {
    env: { SPECIMEN_VAULT: v.path },
  });
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.runs!.map((run) => run.status), ["interrupted", "succeeded"]);
  assertEquals(
    Object.keys(m.seal!.files).filter((p) => p.includes(".tmp-")),
    [],
  );
  assertEquals(tempLeftovers(dir), []);
  assertEquals((await verifySpecimen(dir)).state, "ok");
});

// ---------------------------------------------------------------------------
// Mechanisms for disk full, read-only and permission denied.

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    })
      .output();
    return o.success;
  } catch {
    return false;
  }
}

/** Whether this process may mount a tmpfs (root, not in a locked container). */
const CAN_MOUNT = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "sv_mount_probe_" });
  try {
    if (
      !(await succeeds("mount", [
        "-t",
        "tmpfs",
        "-o",
        "size=64k",
        "tmpfs",
        dir,
      ]))
    ) {
      return false;
    }
    await succeeds("umount", [dir]);
    return true;
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
})();

/**
 * setpriv can drop CAP_DAC_OVERRIDE: then even root gets EACCES from a
 * chmod 000 folder, the real error a user without rights gets.
 */
const SETPRIV = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"];
const CAN_SETPRIV = await succeeds(SETPRIV[0], [...SETPRIV.slice(1), "true"]);

const NO_MOUNT =
  " [ignored: mounting a tmpfs is not permitted here (needs root)]";

/** A tmpfs of `size` at a temp folder, unmounted on dispose. */
async function tmpfs(
  size: string,
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "sv_tmpfs_" });
  assert(
    await succeeds("mount", [
      "-t",
      "tmpfs",
      "-o",
      `size=${size}`,
      "tmpfs",
      path,
    ]),
  );
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      if (!(await succeeds("umount", [path]))) {
        await succeeds("umount", ["-l", path]);
      }
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  using f = await Deno.open(path, { write: true, create: true });
  const block = new Uint8Array(64 * 1024);
  for (let size = block.length; size > 0;) {
    try {
      await f.write(block.subarray(0, size));
    } catch {
      size >>= 1; // the last pages: smaller and smaller writes
    }
  }
  return path;
}

/** Run output for people: the first line of stderr, and no stack trace. */
function assertCleanError(stderr: string, pattern: RegExp) {
  assertMatch(stderr, /^error: /);
  assertMatch(stderr, pattern);
  assert(
    !/\n\s+at /.test(stderr),
    `a stack trace instead of a message:\n${stderr}`,
  );
}

function randomColumns(rows: number) {
  const loss = new Float64Array(rows);
  for (let i = 0; i < rows; i++) loss[i] = Math.random();
  return { step: Int32Array.from({ length: rows }, (_, i) => i), loss };
}

// ---------------------------------------------------------------------------
// Disk full

Deno.test({
  name:
    "a full disk (8 MB tmpfs): every write fails clearly, nothing corrupt remains, and after freeing space it all succeeds" +
    (CAN_MOUNT ? "" : NO_MOUNT),
  ignore: !CAN_MOUNT,
  async fn() {
    await using fs = await tmpfs("8m");
    const vault = fs.path;
    const specimens = join(vault, "specimens");
    await Deno.mkdir(specimens);
    const neighbour = await sealedNeighbour(vault);
    const { dir, storage } = await activeTarget(vault);
    const log = await storage.logger("train", {
      flushRows: 1000,
      flushSeconds: Infinity,
    });
    for (let i = 0; i < 1000; i++) log.log({ step: i, loss: 1 / (i + 1) });
    await log.flush();
    await indexVault({ vault });
    const before = await snapshot(vault);
    const manifest = await Deno.readFile(join(dir, "manifest.msgpack"));
    const filler = await fill(vault);

    const noSpace = /no space left on device/i;
    await assertRejects(
      () => storage.writeMetrics(randomColumns(50_000)),
      VaultError,
      /no space left on device/i,
    );
    await assertRejects(
      () =>
        storage.writeTensor(
          "acts",
          new Float32Array(1 << 20).map(Math.random),
          { shape: [1024, 1024] },
        ),
      VaultError,
      /no space left on device/i,
    );
    {
      const w = await storage.createTensor("stream", {
        shape: [256, 1024],
        dtype: "float32",
      })
        .catch((e) => e as Error);
      if (!(w instanceof Error)) {
        const failed = await (async () => {
          for (let r = 0; r < 256; r += 32) {
            await w.write(new Float32Array(32 * 1024).map(Math.random));
          }
          await w.close();
        })().catch((e) => e as Error);
        assert(
          failed instanceof Error && noSpace.test(failed.message),
          String(failed),
        );
        await w.abort();
      } else assertMatch(w.message, noSpace);
    }
    // The logger: the part that cannot be written fails flush() and close();
    // the rows of earlier parts stay readable.
    for (let i = 1000; i < 2000; i++) log.log({ step: i, loss: Math.random() });
    await assertRejects(
      () => log.flush(),
      VaultError,
      /no space left on device/i,
    );
    await assertRejects(
      () => log.close(),
      VaultError,
      /part-000002\.parquet of metrics log "train"/,
    );
    assertEquals(
      (await storage.readMetrics("train")).step,
      Array.from({ length: 1000 }, (_, i) => i),
    );
    await assertRejects(
      () =>
        createSpecimen({
          vault,
          id: "full",
          domain: "training",
          method: "fine_tuning",
        }),
      VaultError,
      /no space left on device/i,
    );
    // The tasks say what happened and what to do, without a stack trace.
    const create = await runTask("create", [
      "--vault",
      vault,
      "--id",
      "full2",
      "--domain",
      "training",
      "--method",
      "fine_tuning",
    ]);
    assertEquals(create.code, 1);
    assertCleanError(
      create.stderr,
      /No space left on device[^]*free some space/,
    );
    const index = await runTask("index", ["--vault", vault, "--full"]);
    assertEquals(index.code, 1, index.stderr);
    assertCleanError(
      index.stderr,
      /No space left on device[^]*free some space/,
    );

    // Nothing half-written anywhere; the good state as it was, still readable.
    assertEquals(tempLeftovers(vault), []);
    await assertUnchanged(vault, before);
    assertEquals(await Deno.readFile(join(dir, "manifest.msgpack")), manifest);
    assertEquals(listAll(join(dir, "strata")).filter((p) => !isHidden(p)), [
      "baseline.parquet",
      "train.parts/part-000001.parquet",
    ]);
    assertEquals((await verifySpecimen(neighbour)).state, "ok");
    {
      using q = await VaultQuery.open({ vault });
      assertEquals(
        (await q.search("SELECT count(*) AS n FROM catalog"))[0].n,
        2,
      );
    }

    // Free the space: the same writes now succeed.
    await Deno.remove(filler);
    await storage.writeMetrics(randomColumns(50_000));
    await storage.writeTensor("acts", new Float32Array(1 << 18), {
      shape: [512, 512],
    });
    await createSpecimen({
      vault,
      id: "full",
      domain: "training",
      method: "fine_tuning",
    });
    const report = await indexVault({ vault });
    assertEquals(report.indexed, 3);
    assertEquals((await repairLogs(dir)).problems, []);
    const m = await readManifest(dir);
    assertEquals(Object.keys(m.artifacts).sort(), [
      "acts",
      "baseline",
      "metrics",
      "train",
    ]);
    assertEquals([m.artifacts.train.rows, m.artifacts.train.interrupted], [
      1000,
      true,
    ]);
  },
});

Deno.test("a file-size limit (ulimit -f) fails a large write cleanly; the rerun without it succeeds", async () => {
  await using v = await freshVault();
  const { dir } = await activeTarget(v.path);
  const before = await snapshot(v.path, (p) => p.endsWith("manifest.msgpack"));
  const manifest = await Deno.readFile(join(dir, "manifest.msgpack"));
  // SIGXFSZ ignored: the write fails with EFBIG instead of killing Deno.
  const limited = [
    "bash",
    "-c",
    `trap '' XFSZ; ulimit -f 4096; exec "$@"`,
    "bash",
  ];
  const r = await runChild(
    "write-metrics",
    { dir, rows: 1_500_000, name: "metrics" },
    { kind: "never" },
    {
      prefix: limited,
      allowFailure: true,
    },
  );
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stderr, /File too large/);
  assertEquals(tempLeftovers(v.path), []);
  await assertUnchanged(v.path, before);
  assertEquals(await Deno.readFile(join(dir, "manifest.msgpack")), manifest);
  // The create task under a limit of 0 bytes: a message, exit 1, nothing left.
  const create = await new Deno.Command("bash", {
    args: [
      "-c",
      `trap '' XFSZ; ulimit -f 0; exec "$@"`,
      "bash",
      Deno.execPath(),
      "run",
      "-A",
      join(ROOT, "tasks", "create.ts"),
      "--vault",
      v.path,
      "--id",
      "limited",
      "--domain",
      "training",
      "--method",
      "fine_tuning",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(create.stderr);
  assertEquals(create.code, 1, stderr);
  assertCleanError(stderr, /File too large[^]*free some space/);
  assertEquals([...Deno.readDirSync(v.specimens)].map((e) => e.name), [
    "target",
  ]);

  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics(metricColumns(1_500_000));
  assertEquals((await storage.readMetrics()).step.length, 1_500_000);
});

// ---------------------------------------------------------------------------
// Read-only vault, permission denied. Root ignores file modes, so each case
// runs under every mechanism available: a read-only mount (EROFS), modes
// with CAP_DAC_OVERRIDE dropped by setpriv (EACCES, what a user without
// rights gets), and Deno's own permissions (NotCapable).

/** Output of a task run under `prefix` with Deno flags `flags`. */
async function taskAs(
  name: string,
  args: string[],
  prefix: string[],
  flags: string[],
) {
  const argv = ["run", ...flags, join(ROOT, "tasks", `${name}.ts`), ...args];
  const o = await new Deno.Command(prefix[0] ?? Deno.execPath(), {
    args: prefix.length ? [...prefix.slice(1), Deno.execPath(), ...argv] : argv,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: o.code,
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
  };
}

interface Mechanism {
  name: string;
  available: boolean;
  /** Makes `vault` read-only; returns the path to use, the way to run, and the undo. */
  apply(vault: string): Promise<{
    path: string;
    prefix: string[];
    flags: string[];
    undo: () => Promise<void>;
  }>;
}

const READ_ONLY: Mechanism[] = [
  {
    name: "a read-only bind mount (EROFS)",
    available: CAN_MOUNT,
    async apply(vault) {
      const path = await Deno.makeTempDir({ prefix: "sv_ro_" });
      assert(await succeeds("mount", ["--bind", vault, path]));
      assert(await succeeds("mount", ["-o", "remount,bind,ro", path]));
      return {
        path,
        prefix: [],
        flags: ["-A"],
        undo: async () => {
          if (!(await succeeds("umount", [path]))) {
            await succeeds("umount", ["-l", path]);
          }
          await Deno.remove(path);
        },
      };
    },
  },
  {
    name: "chmod -R a-w with CAP_DAC_OVERRIDE dropped by setpriv (EACCES)",
    available: CAN_SETPRIV,
    async apply(vault) {
      await new Deno.Command("chmod", { args: ["-R", "a-w", vault] }).output();
      return {
        path: vault,
        prefix: SETPRIV,
        flags: ["-A"],
        undo: async () => {
          await new Deno.Command("chmod", { args: ["-R", "u+w", vault] })
            .output();
        },
      };
    },
  },
  {
    name: "Deno permissions without write access to the vault (NotCapable)",
    available: true,
    apply(vault) {
      return Promise.resolve({
        path: vault,
        prefix: [],
        flags: [
          "--allow-read",
          "--allow-env",
          "--allow-ffi",
          "--allow-sys",
          `--allow-write=${Deno.env.get("TMPDIR") ?? "/tmp"}/sv_nowhere`,
        ],
        undo: () => Promise.resolve(),
      });
    },
  },
];

Deno.test("a read-only vault: writes fail with a clear error, reads work, nothing changes", async (t) => {
  for (const mechanism of READ_ONLY) {
    await t.step({
      name: mechanism.name +
        (mechanism.available ? "" : " [ignored: not available here]"),
      ignore: !mechanism.available,
      async fn() {
        await using v = await freshVault();
        const neighbour = await sealedNeighbour(v.path);
        const { dir } = await activeTarget(v.path);
        await indexVault({ vault: v.path });
        const before = await snapshot(v.path);
        const listing = listAll(v.path);
        const ro = await mechanism.apply(v.path);
        try {
          const task = (name: string, args: string[]) =>
            taskAs(name, args, ro.prefix, ro.flags);
          const refused =
            /Read-only file system|Permission denied|Requires write access/;
          const create = await task("create", [
            "--vault",
            ro.path,
            "--id",
            "new_one",
            "--domain",
            "training",
            "--method",
            "fine_tuning",
          ]);
          assertEquals(create.code, 1, create.stderr);
          assertCleanError(create.stderr, refused);
          const write = await runChild(
            "write-metrics",
            {
              dir: join(ro.path, "specimens", "target"),
              rows: 1000,
              name: "metrics",
            },
            { kind: "never" },
            { prefix: ro.prefix, denoFlags: ro.flags, allowFailure: true },
          );
          assertEquals(write.code, 1, write.stderr);
          assertMatch(write.stderr, refused);
          const index = await task("index", ["--vault", ro.path, "--full"]);
          assertEquals(index.code, 1, index.stderr);
          assertCleanError(index.stderr, refused);
          // Reading needs no write.
          const verify = await task("verify", [
            "--vault",
            ro.path,
            "neighbour",
          ]);
          assertEquals(verify.code, 0, verify.stderr);
          const query = await task("query", [
            "--vault",
            ro.path,
            "--format",
            "json",
            "SELECT specimen_id FROM catalog ORDER BY 1",
          ]);
          assertEquals(query.code, 0, query.stderr);
          assertEquals(JSON.parse(query.stdout), [
            { specimen_id: "neighbour" },
            { specimen_id: "target" },
          ]);
        } finally {
          await ro.undo();
        }
        assertEquals(listAll(v.path), listing);
        await assertUnchanged(v.path, before);
        assertEquals((await verifySpecimen(neighbour)).state, "ok");
        assertEquals(Object.keys((await readManifest(dir)).artifacts), [
          "baseline",
        ]);
      },
    });
  }
});

Deno.test("a specimen the user may not read: index and verify name it and go on with the others", async (t) => {
  const mechanisms = [
    {
      name: "chmod 000 with CAP_DAC_OVERRIDE dropped by setpriv (EACCES)",
      available: CAN_SETPRIV,
    },
    { name: "--deny-read on the specimen (NotCapable)", available: true },
  ];
  for (const { name, available } of mechanisms) {
    await t.step({
      name: name + (available ? "" : " [ignored: not available here]"),
      ignore: !available,
      async fn() {
        await using v = await freshVault();
        await sealedNeighbour(v.path, "a");
        await sealedNeighbour(v.path, "b");
        await sealedNeighbour(v.path, "c");
        const locked = join(v.specimens, "b");
        const setpriv = name.includes("setpriv");
        const prefix = setpriv ? SETPRIV : [];
        const flags = setpriv
          ? ["-A"]
          : ["-A", `--deny-read=${locked}`, `--deny-write=${locked}`];
        if (setpriv) await Deno.chmod(locked, 0o000);
        try {
          const task = (n: string, args: string[]) =>
            taskAs(n, args, prefix, flags);
          const index = await task("index", ["--vault", v.path]);
          assertEquals(index.code, 0, index.stderr);
          assertMatch(
            index.stderr,
            /warning: specimens\/b: .*(Permission denied|Requires read access)/,
          );
          assertMatch(index.stdout, /Indexed \(full\): 2 specimen/);
          const verify = await task("verify", [
            "--vault",
            v.path,
            "--format",
            "json",
          ]);
          assertEquals(verify.code, 1, verify.stderr);
          const states = JSON.parse(verify.stdout).specimens
            .map((r: { id: string; state: string }) => [r.id, r.state]);
          assertEquals(states, [["a", "ok"], ["b", "error"], ["c", "ok"]]);
          const create = await task("create", [
            "--vault",
            v.path,
            "--id",
            "d",
            "--domain",
            "training",
            "--method",
            "fine_tuning",
          ]);
          assertEquals(create.code, 0, create.stderr);
        } finally {
          await Deno.chmod(locked, 0o755);
        }
        const report = await indexVault({ vault: v.path });
        assertEquals(report.indexed, 4);
      },
    });
  }
});
