/**
 * Faults of push and pull against a real S3 server (Swift s3api), each with
 * real processes: SIGKILL during a push and during a pull, then a rerun;
 * the server stopped in the middle of a transfer. The kills wait on what
 * the remote or the vault shows, never on time.
 */
import { join } from "../lib/_deps.ts";
import { addRemote, type NamedRemote } from "../lib/remote/config.ts";
import { openStore } from "../lib/remote/open.ts";
import { decodeManifest } from "../lib/specimen/manifest.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import type { RemoteStore } from "../lib/remote/store.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  taskFlags,
  tempVault,
} from "./utils.ts";
import {
  awsEnv,
  createBucket,
  makeSealed,
  remoteTask,
  s3ForTests,
} from "./_remote.ts";

const COUNT = 24;

function spawnTask(
  name: string,
  flags: string[],
  args: string[],
  cwd: string,
  env: Record<string, string>,
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, join(ROOT, "tasks", `${name}.ts`), ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Every claimed specimen on the remote is whole: its manifest and every sealed file are there. */
async function assertNoPartialVisible(store: RemoteStore): Promise<number> {
  const claims = (await store.list("claims/")).map((o) => o.key);
  const content = new Set((await store.list("specimens/")).map((o) => o.key));
  let visible = 0;
  for (const key of claims) {
    const m =
      /^claims\/([^/]+)\/(?:\d{8}T\d{9}Z-([0-9a-f]{64})\.json|lock\.json)$/
        .exec(key);
    assert(m, key);
    const digest = m[2] ??
      JSON.parse(new TextDecoder().decode((await store.get(key))!)).digest;
    const base = `specimens/${m[1]}/${digest}/`;
    const manifest = decodeManifest(
      (await store.get(`${base}manifest.msgpack`))!,
    );
    for (const path of Object.keys(manifest.seal!.files)) {
      assert(content.has(base + path), `claimed ${m[1]} lacks ${path}`);
    }
    visible++;
  }
  return visible;
}

Deno.test("S3 faults: SIGKILL during push and pull, then reruns; the server stopped mid-transfer", async (t) => {
  await using s3 = await s3ForTests();
  const env = awsEnv(s3);
  for (const [k, v] of Object.entries(s3.env)) Deno.env.set(k, v);
  await createBucket(s3, "faults");
  const remote: NamedRemote = {
    name: "origin",
    url: "s3://faults/v",
    endpoint: s3.endpoint,
  };
  await using a = await tempVault();
  for (let i = 0; i < COUNT; i++) {
    await makeSealed(a.path, `k_${i}`, { steps: 2000 });
  }
  await addRemote(a.path, remote);
  const store = await openStore(remote);
  const flags = await taskFlags("push");

  try {
    await t.step(
      "SIGKILL during a push: nothing partial is ever visible; a rerun completes",
      async () => {
        const child = spawnTask(
          "push",
          flags,
          ["--concurrency", "1"],
          a.path,
          env,
        );
        for (;;) {
          await assertNoPartialVisible(store);
          if ((await store.list("specimens/")).length >= 8) break;
        }
        child.kill("SIGKILL");
        const status = await child.status;
        await child.stdout.cancel();
        await child.stderr.cancel();
        assertEquals(status.signal, "SIGKILL");
        const before = await assertNoPartialVisible(store);
        assert(before < COUNT, `the push had not finished (${before} visible)`);
        const r = await remoteTask("push", [], { cwd: a.path, env });
        assertEquals(r.code, 0, r.stdout + r.stderr);
        assertEquals(await assertNoPartialVisible(store), COUNT);
      },
    );

    await t.step(
      "SIGKILL during a pull: no partial specimen locally; a rerun completes",
      async () => {
        await using b = await tempVault();
        await addRemote(b.path, remote);
        const child = spawnTask(
          "pull",
          flags,
          ["--all", "--concurrency", "1"],
          b.path,
          env,
        );
        for (;;) {
          const names = [...Deno.readDirSync(b.specimens)].map((e) => e.name);
          if (names.filter((n) => !n.startsWith(".")).length >= 2) break;
        }
        child.kill("SIGKILL");
        const status = await child.status;
        await child.stdout.cancel();
        await child.stderr.cancel();
        assertEquals(status.signal, "SIGKILL");
        const placed = [...Deno.readDirSync(b.specimens)].map((e) => e.name)
          .filter((n) => !n.startsWith("."));
        assert(
          placed.length < COUNT,
          `the pull had not finished (${placed.length})`,
        );
        for (const id of placed) {
          assertEquals(
            (await verifySpecimen(join(b.specimens, id))).state,
            "ok",
            id,
          );
        }
        const r = await remoteTask("pull", ["--all"], { cwd: b.path, env });
        assertEquals(r.code, 0, r.stdout + r.stderr);
        const names = [...Deno.readDirSync(b.specimens)].map((e) => e.name);
        assertEquals(
          names.filter((n) => n.startsWith(".tmp-")),
          [],
          `the killed pull's temp folders are gone: ${names}`,
        );
        assertEquals(names.length, COUNT);
        for (const id of names) {
          assertEquals(
            (await verifySpecimen(join(b.specimens, id))).state,
            "ok",
            id,
          );
        }
      },
    );

    await t.step(
      "the server stopped mid-transfer: one clear line naming the endpoint, exit 9",
      async () => {
        await using c = await tempVault();
        for (let i = 0; i < COUNT; i++) {
          await makeSealed(c.path, `late_${i}`, { steps: 2000 });
        }
        await addRemote(c.path, remote);
        const child = spawnTask(
          "push",
          flags,
          ["--concurrency", "1"],
          c.path,
          env,
        );
        while (
          !(await store.list("specimens/late_")).length
        ) { /* wait for the first upload */ }
        await s3.stopProxy();
        const out = await child.output();
        const stderr = new TextDecoder().decode(out.stderr);
        assertEquals(out.code, 9, stderr);
        assertEquals(stderr.trim().split("\n").length, 1, stderr);
        assertMatch(
          stderr,
          new RegExp(
            `^error: Cannot reach ${
              s3.endpoint.replace(/\./g, "\\.")
            } .*after retries with backoff`,
          ),
        );
      },
    );
  } finally {
    store.close();
  }
});
