/**
 * Push, pull, clone and their faults against a real S3-compatible server:
 * OpenStack Swift with s3api, started for this file by
 * tests/_tools/s3/swift_server.ts and stopped by PID at the end. Every task
 * runs as a subprocess with deno.json's flags.
 */
import { join } from "../lib/_deps.ts";
import { addRemote } from "../lib/remote/config.ts";
import { openStore } from "../lib/remote/open.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  tempDir,
  tempVault,
} from "./utils.ts";
import {
  awsEnv,
  createBucket,
  makeSealed,
  remoteTask,
  s3ForTests,
} from "./_remote.ts";

Deno.test("S3 remote (Swift s3api): push, pull, clone and faults", async (t) => {
  await using s3 = await s3ForTests();
  const env = awsEnv(s3);
  // This process reads the bucket too (to check and to tamper with it).
  for (const [k, v] of Object.entries(s3.env)) Deno.env.set(k, v);
  await createBucket(s3, "team-results");
  const url = "s3://team-results/lab/vault";
  const remote = { name: "origin", url, endpoint: s3.endpoint };
  await using a = await tempVault();
  await using b = await tempDir();
  const ids = ["run_a", "run_b", "run_c", "run_big"];
  for (const id of ids) {
    // run_big holds a 20 MB tensor: it goes up in parts.
    await makeSealed(
      a.path,
      id,
      id === "run_big" ? { tensor: 5_000_000, oneChunk: true } : { steps: 500 },
    );
  }
  await addRemote(a.path, remote);

  await t.step(
    "push sends every file with its seal's SHA-256 as metadata, the big one in parts",
    async () => {
      const r = await remoteTask("push", ["--all"], { cwd: a.path, env });
      assertEquals(r.code, 0, r.stderr + r.stdout);
      assertMatch(r.stdout, /push: 4 pushed/);
      const { S3Client, HeadObjectCommand } = await import(
        "../lib/_deps/aws_s3.ts"
      );
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: {
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        },
      });
      const store = await openStore(remote);
      try {
        const keys = (await store.list("specimens/run_big/")).map((o) => o.key);
        const big = (await store.list("specimens/run_big/")).find((o) =>
          o.size > 16 * 1024 * 1024
        );
        assert(big, "a chunk over the multipart threshold");
        const zarrChunk = keys.find((k) =>
          k.includes("/strata/weights") && !k.endsWith("zarr.json")
        );
        assert(zarrChunk, keys.join(","));
        const head = await client.send(
          new HeadObjectCommand({
            Bucket: "team-results",
            Key: `lab/vault/${zarrChunk}`,
          }),
        );
        assertMatch(head.Metadata?.sha256 ?? "", /^[0-9a-f]{64}$/);
        assertEquals((await store.list("log/")).length, 1);
      } finally {
        store.close();
        client.destroy();
      }
    },
  );

  await t.step("a push with nothing new sends nothing", async () => {
    const r = await remoteTask("push", [], { cwd: a.path, env });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /push: 4 present/);
  });

  const clone = join(b.path, "laptop");
  await t.step(
    "clone pulls everything, verified, and index-ready",
    async () => {
      const r = await remoteTask("clone", [
        url,
        clone,
        "--endpoint",
        s3.endpoint,
      ], { cwd: b.path, env });
      assertEquals(r.code, 0, r.stderr + r.stdout);
      for (const id of ids) {
        assertEquals(
          (await verifySpecimen(join(clone, "specimens", id))).state,
          "ok",
          id,
        );
      }
      const s = await remoteTask("remote", ["status"], { cwd: clone, env });
      assertMatch(s.stdout, /0 to push, 0 to pull, 0 in conflict, 4 the same/);
    },
  );

  await t.step(
    "a tampered object is refused on pull, the file named; the others arrive",
    async () => {
      const store = await openStore(remote);
      try {
        const key = (await store.list("specimens/run_b/")).map((o) => o.key)
          .find((k) => k.endsWith("protocol.ts"))!;
        await store.put(
          key,
          new TextEncoder().encode("// not what was sealed\n"),
        );
      } finally {
        store.close();
      }
      await using c = await tempVault();
      await addRemote(c.path, remote);
      const r = await remoteTask("pull", ["--all"], { cwd: c.path, env });
      assertEquals(r.code, 5, r.stdout + r.stderr);
      assertMatch(
        r.stdout,
        /refused\s+run_b\s+protocol\.ts does not match its seal/,
      );
      const here = [...Deno.readDirSync(c.specimens)].map((e) => e.name).sort();
      assertEquals(here, ["run_a", "run_big", "run_c"]);
    },
  );

  await t.step(
    "two pushers of different specimens at once: both land",
    async () => {
      await using x = await tempVault();
      await using y = await tempVault();
      await makeSealed(x.path, "from_x");
      await makeSealed(y.path, "from_y");
      for (const v of [x, y]) await addRemote(v.path, remote);
      const rs = await Promise.all(
        [x, y].map((v) => remoteTask("push", [], { cwd: v.path, env })),
      );
      assertEquals(
        rs.map((r) => r.code),
        [0, 0],
        rs.map((r) => r.stderr).join(),
      );
      const r = await remoteTask("pull", ["from_x", "from_y"], {
        cwd: clone,
        env,
      });
      assertEquals(r.code, 0, r.stdout + r.stderr);
    },
  );

  await t.step(
    "two pushers of one id with other content at once: exactly one wins, the other is told both digests",
    async () => {
      await using x = await tempVault();
      await using y = await tempVault();
      await makeSealed(x.path, "contested", { offset: 1 });
      await makeSealed(y.path, "contested", { offset: 2 });
      for (const v of [x, y]) await addRemote(v.path, remote);
      const rs = await Promise.all(
        [x, y].map((v) => remoteTask("push", [], { cwd: v.path, env })),
      );
      assertEquals(
        rs.map((r) => r.code).sort(),
        [0, 3],
        rs.map((r) => r.stdout + r.stderr).join("\n"),
      );
      const loser = rs.find((r) => r.code === 3)!;
      assertMatch(
        loser.stdout,
        /conflict\s+contested .*remote seal [0-9a-f]{64}, yours [0-9a-f]{64}/,
      );
      // The winner's content is what a third machine pulls.
      const r = await remoteTask("pull", ["contested"], { cwd: clone, env });
      assertEquals(r.code, 0, r.stdout);
      const winner = rs.indexOf(rs.find((r) => r.code === 0)!);
      const v = await verifySpecimen(join(clone, "specimens", "contested"));
      const w = await verifySpecimen(
        join([x, y][winner].specimens, "contested"),
      );
      assertEquals(v.digest, w.digest);
    },
  );

  await t.step("wrong credentials: one line, exit 10", async () => {
    const r = await remoteTask("push", [], {
      cwd: a.path,
      env: { ...env, AWS_SECRET_ACCESS_KEY: "wrong" },
    });
    assertEquals(r.code, 10, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assertMatch(
      lines[0],
      /^error: Access denied by http:\/\/127\.0\.0\.1:\d+.*check the credentials/,
    );
  });

  await t.step("a missing bucket: one line, exit 4", async () => {
    await using c = await tempVault();
    await addRemote(c.path, { ...remote, url: "s3://no-such-bucket/x" });
    const r = await remoteTask("pull", ["--all"], { cwd: c.path, env });
    assertEquals(r.code, 4, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertMatch(
      r.stderr,
      /Bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1/,
    );
  });

  await t.step(
    "an unreachable endpoint: one line, exit 9, after retries",
    async () => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      await using c = await tempVault();
      await addRemote(c.path, {
        ...remote,
        endpoint: `http://127.0.0.1:${port}`,
      });
      const r = await remoteTask("remote", ["status"], { cwd: c.path, env });
      assertEquals(r.code, 9, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(
          `Cannot reach http://127\\.0\\.0\\.1:${port}.*after retries`,
        ),
      );
    },
  );
});
