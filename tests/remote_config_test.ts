/**
 * Remotes in vault.config.json, and push/pull/clone through a file://
 * remote (the same code path as S3, on a folder), as real subprocesses.
 */
import { join } from "../lib/_deps.ts";
import {
  addRemote,
  parseRemoteUrl,
  readRemotes,
  removeRemote,
} from "../lib/remote/config.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import { readOrigin } from "../lib/specimen/origin.ts";
import { CHANGES_FILE } from "../lib/vault_changes.ts";
import { InvalidInputError } from "../lib/errors.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  tempDir,
  tempVault,
} from "./utils.ts";
import { makeSealed, remoteTask } from "./_remote.ts";
import { serveVault } from "./testdata/dashboard_fixtures.ts";

Deno.test("parseRemoteUrl() reads s3 and file URLs and refuses others", async (t) => {
  const cases: [string, unknown][] = [
    ["s3://lab-results", { kind: "s3", bucket: "lab-results", prefix: "" }],
    ["s3://lab.results/a/b/", {
      kind: "s3",
      bucket: "lab.results",
      prefix: "a/b",
    }],
    ["file:///srv/team", { kind: "file", path: "/srv/team" }],
  ];
  for (const [url, want] of cases) {
    await t.step(url, () => assertEquals(parseRemoteUrl(url), want));
  }
  for (
    const bad of [
      "http://x/y",
      "s3://A_B/",
      "s3://b/../x",
      "gs://bucket",
      "file:relative",
    ]
  ) {
    await t.step(`refuses ${bad}`, () => {
      assertThrows(
        () => parseRemoteUrl(bad),
        InvalidInputError,
        "Invalid remote URL",
      );
    });
  }
});

Deno.test("addRemote() and removeRemote() keep the config file's other keys", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "vault.config.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      taxonomy: { vision: ["x"] },
      remotes: { old: { url: "file:///a" } },
    }),
  );
  await addRemote(dir.path, {
    name: "origin",
    url: "s3://bkt/p",
    endpoint: "http://127.0.0.1:9",
    region: "eu-west-1",
  });
  const config = JSON.parse(await Deno.readTextFile(path));
  assertEquals(config.taxonomy, { vision: ["x"] });
  assertEquals(config.remotes.origin, {
    url: "s3://bkt/p",
    endpoint: "http://127.0.0.1:9",
    region: "eu-west-1",
  });
  await assertRejects(
    () => addRemote(dir.path, { name: "origin", url: "s3://ccc" }),
    InvalidInputError,
    "exists",
  );
  await assertRejects(
    () => addRemote(dir.path, { name: "Bad Name", url: "s3://ccc" }),
    InvalidInputError,
    "remote name",
  );
  await assertRejects(
    () =>
      addRemote(dir.path, {
        name: "x",
        url: "file:///a",
        endpoint: "http://e",
      }),
    InvalidInputError,
    "s3://",
  );
  await assertRejects(
    () =>
      addRemote(dir.path, { name: "y", url: "s3://bkt", endpoint: "ftp://e" }),
    InvalidInputError,
    "--endpoint",
  );
  await removeRemote(dir.path, "old");
  assertEquals((await readRemotes(dir.path)).map((r) => r.name), ["origin"]);
  assertEquals(JSON.parse(await Deno.readTextFile(path)).taxonomy, {
    vision: ["x"],
  });
});

Deno.test("remote add/list/remove as a task: usage errors exit 2, unknown remote 4", async () => {
  await using v = await tempVault();
  let r = await remoteTask("remote", ["add", "team", "file:///srv/x"], {
    cwd: v.path,
  });
  assertEquals(r.code, 0, r.stderr);
  r = await remoteTask("remote", ["list", "--format", "json"], { cwd: v.path });
  assertEquals(JSON.parse(r.stdout), [{ name: "team", url: "file:///srv/x" }]);
  r = await remoteTask("remote", ["add", "team2", "ftp://x"], { cwd: v.path });
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /^error: Invalid remote URL "ftp:\/\/x"/);
  r = await remoteTask("remote", ["frob"], { cwd: v.path });
  assertEquals(r.code, 2);
  r = await remoteTask("remote", ["remove", "nope"], { cwd: v.path });
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /No remote "nope".*there are: team/);
  for (const name of ["push", "pull", "remote", "clone"] as const) {
    r = await remoteTask(name, ["--help"], { cwd: v.path });
    assertEquals(r.code, 0, name);
    assertMatch(r.stdout, /Exit codes/);
  }
  // A folder remote that does not exist: one line naming the fix, exit 4.
  r = await remoteTask("push", ["team"], { cwd: v.path });
  assertEquals(r.code, 4, r.stderr);
  assertMatch(
    r.stderr,
    /^error: Remote folder \/srv\/x does not exist: create it/,
  );
  // No remote at all.
  await using w = await tempVault();
  r = await remoteTask("pull", ["--all"], { cwd: w.path });
  assertEquals(r.code, 4);
  assertMatch(
    r.stderr,
    /This vault has no remote: add one with deno task remote add/,
  );
});

Deno.test("a file:// remote: push, push again, clone, pull --tag, status, conflicts", async (t) => {
  await using shared = await tempDir();
  await using a = await tempVault();
  await using b = await tempDir();
  for (const id of ["alpha", "beta", "gamma"]) {
    await makeSealed(a.path, id, { tags: id === "beta" ? ["keep"] : [] });
  }
  // An unsealed one: listed with its reason, not pushed.
  await Deno.mkdir(join(a.specimens, "draft"));
  await Deno.writeFile(
    join(a.specimens, "draft", "manifest.msgpack"),
    new Uint8Array([0xc1]),
  );
  const url = `file://${shared.path}`;
  assertEquals(
    (await remoteTask("remote", ["add", "origin", url], { cwd: a.path })).code,
    0,
  );

  await t.step(
    "push sends the sealed ones and lists the others with the reason",
    async () => {
      const r = await remoteTask("push", ["--format", "json"], { cwd: a.path });
      assertEquals(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout).specimens;
      assertEquals(
        rows.map((x: { id: string; state: string }) => `${x.id}:${x.state}`),
        ["alpha:pushed", "beta:pushed", "draft:skipped", "gamma:pushed"],
      );
      assertMatch(rows[2].reason, /manifest/);
      const logs = [...Deno.readDirSync(join(shared.path, "log"))];
      assertEquals(logs.length, 1);
    },
  );

  await t.step(
    "a second push sends nothing and writes no log entry",
    async () => {
      const r = await remoteTask("push", [], { cwd: a.path });
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /3 present/);
      assertEquals([...Deno.readDirSync(join(shared.path, "log"))].length, 1);
    },
  );

  const clone = join(b.path, "copy");
  await t.step(
    "clone --tag pulls only the tagged one, verified, with its origin",
    async () => {
      const r = await remoteTask("clone", [url, clone, "--tag", "keep"], {
        cwd: b.path,
      });
      assertEquals(r.code, 0, r.stderr + r.stdout);
      const here = [...Deno.readDirSync(join(clone, "specimens"))].map((e) =>
        e.name
      ).sort();
      assertEquals(here, ["beta"]);
      assertEquals(
        (await verifySpecimen(join(clone, "specimens", "beta"))).state,
        "ok",
      );
      const origin = await readOrigin(join(clone, "specimens", "beta"));
      assertEquals(origin?.remote, "origin");
      assertEquals(origin?.url, url);
      assertMatch(
        await Deno.readTextFile(join(clone, CHANGES_FILE)),
        /\nbeta\n/,
      );
      // The dashboard's specimen page says where it came from.
      await using server = await serveVault(clone);
      const res = await fetch(new URL("/api/specimens/beta", server.url));
      const body = await res.json();
      assertEquals(body.origin.remote, "origin");
      assertEquals(body.origin.url, url);
      assertMatch(body.origin.pulled_at, /^\d{4}-\d\d-\d\dT/);
    },
  );

  await t.step(
    "status counts to pull; pull --prefix takes the rest",
    async () => {
      let r = await remoteTask("remote", ["status", "--format", "json"], {
        cwd: clone,
      });
      const [s] = JSON.parse(r.stdout);
      assertEquals([s.toPush.length, s.toPull, s.same], [
        0,
        ["alpha", "gamma"],
        1,
      ]);
      r = await remoteTask("pull", ["--prefix", "gam"], { cwd: clone });
      assertEquals(r.code, 0, r.stderr);
      r = await remoteTask("pull", ["alpha"], { cwd: clone });
      assertEquals(r.code, 0, r.stderr);
      r = await remoteTask("pull", ["nothere"], { cwd: clone });
      assertEquals(r.code, 4);
      r = await remoteTask("pull", [], { cwd: clone });
      assertEquals(r.code, 2);
    },
  );

  await t.step(
    "one id, other content: push is told both digests; pull keeps the local one",
    async () => {
      await using c = await tempVault();
      await makeSealed(c.path, "alpha", { offset: 1 });
      await addRemote(c.path, { name: "origin", url });
      let r = await remoteTask("push", [], { cwd: c.path });
      assertEquals(r.code, 3, r.stdout);
      assertMatch(
        r.stdout,
        /conflict\s+alpha .*remote seal [0-9a-f]{64}, yours [0-9a-f]{64}/,
      );
      r = await remoteTask("pull", ["alpha"], { cwd: c.path });
      assertEquals(r.code, 3);
      assertMatch(r.stdout, /kept the local one/);
      assertEquals(
        (await verifySpecimen(join(c.specimens, "alpha"))).state,
        "ok",
      );
      r = await remoteTask("remote", ["status"], { cwd: c.path });
      assertMatch(r.stdout, /1 in conflict/);
    },
  );

  await t.step(
    "a tampered file refuses its specimen, names the file, the others arrive",
    async () => {
      await using d = await tempVault();
      const [digestDir] = [
        ...Deno.readDirSync(join(shared.path, "specimens", "gamma")),
      ];
      const victim = join(
        shared.path,
        "specimens",
        "gamma",
        digestDir.name,
        "strata",
        "metrics.parquet",
      );
      const bytes = await Deno.readFile(victim);
      bytes[bytes.length >> 1] ^= 0xff;
      await Deno.writeFile(victim, bytes);
      await addRemote(d.path, { name: "origin", url });
      const r = await remoteTask("pull", ["--all"], { cwd: d.path });
      assertEquals(r.code, 5, r.stdout + r.stderr);
      assertMatch(
        r.stdout,
        /refused\s+gamma\s+strata\/metrics\.parquet does not match its seal/,
      );
      const here = [...Deno.readDirSync(d.specimens)].map((e) => e.name).sort();
      assertEquals(here, ["alpha", "beta"]);
    },
  );
});

Deno.test("two pushers of one id to a file:// remote: exactly one wins, the other is told", async () => {
  await using shared = await tempDir();
  await using a = await tempVault();
  await using b = await tempVault();
  await makeSealed(a.path, "same", { offset: 0 });
  await makeSealed(b.path, "same", { offset: 2 });
  for (const v of [a, b]) {
    await addRemote(v.path, { name: "origin", url: `file://${shared.path}` });
  }
  const [ra, rb] = await Promise.all(
    [a, b].map((v) => remoteTask("push", [], { cwd: v.path })),
  );
  assertEquals([ra.code, rb.code].sort(), [0, 3], ra.stdout + rb.stdout);
  const loser = ra.code === 3 ? ra : rb;
  assertMatch(loser.stdout, /conflict\s+same/);
  assert(!/conflict/.test((ra.code === 0 ? ra : rb).stdout));
});
