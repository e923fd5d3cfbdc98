/**
 * `deno task query` answered by a running `deno task serve` (the warm path):
 * real server and client processes.
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { processTimeZone, QUERY_ROUTE } from "../lib/query/query_server.ts";
import { unframe } from "../lib/query/_server_proof.ts";
import {
  indexedQueryVault,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  until,
} from "./utils.ts";

const QUERY_FLAGS = await taskFlags("query");
const SERVE_FLAGS = await taskFlags("serve");
/** The client with no FFI: it cannot load DuckDB, so only a server answers. */
const NO_FFI = ["--allow-read", "--allow-net=127.0.0.1", "--allow-env"];

function query(flags: string[], args: string[], stdin?: string) {
  return runDeno(
    ["run", ...flags, join(ROOT, "tasks", "query.ts"), ...args],
    { env: { TZ: "UTC" }, stdin },
  );
}

const serverFile = (vault: string) => join(vault, "vault.duckdb.server");

/** Writes a server file as a server does: mode 0600 (else it is refused). */
async function writeServerFile(path: string, text: string) {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** `deno task serve` for `vault` on a free port, until disposed (SIGTERM). */
async function serve(vault: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVE_FLAGS,
      join(ROOT, "tasks", "serve.ts"),
      "--vault",
      vault,
      "--port",
      "0",
    ],
    env: { NO_COLOR: "1", TZ: "UTC" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const file = serverFile(vault);
  await until(() => exists(file), "the server to write its file");
  const info = JSON.parse(await Deno.readTextFile(file));
  return {
    info,
    child,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* ended */ }
      await child.output();
    },
  };
}

const QUERIES = [
  "SELECT specimen_id, domain, tags, created FROM catalog ORDER BY specimen_id",
  "SELECT specimen_id, count(*) AS n, min(step) AS first FROM metrics GROUP BY 1 ORDER BY 1",
  `SELECT 1.25::DECIMAL(10,2) AS d, [1, 2] AS l, {'a': 1} AS s, NULL AS n,
     TIMESTAMP '2024-01-01 12:00:00.123456' AS ts,
     TIMESTAMPTZ '2024-01-01 12:00:00+02' AS tz, '\\x00\\xFF'::BLOB AS b,
     'multi' || chr(10) || 'line, "quoted"' AS t, 9007199254740993 AS big,
     'nan'::DOUBLE AS nan, 1e300 AS e`,
  "SELECT * FROM range(3) t(i) WHERE i > 5",
];

Deno.test("query task: a running serve answers, with no DuckDB in the client, the same bytes as a local run", async (t) => {
  await using v = await indexedQueryVault();
  await using server = await serve(v.path);
  assertEquals(server.info.host, "127.0.0.1");
  assertEquals((await Deno.stat(serverFile(v.path))).mode! & 0o777, 0o600);
  for (const sql of QUERIES) {
    for (const format of ["table", "csv", "json"]) {
      await t.step(`${format}: ${sql.slice(0, 50)}`, async () => {
        const remote = await query(NO_FFI, [
          "--vault",
          v.path,
          "-f",
          format,
          sql,
        ]);
        const local = await query(QUERY_FLAGS, [
          "--vault",
          v.path,
          "--local",
          "--format",
          format,
          sql,
        ]);
        assertEquals(local.code, 0, local.stderr);
        assertEquals(remote.code, 0, remote.stderr);
        assertEquals(remote.stdout, local.stdout);
        assertEquals(remote.stderr, "");
      });
    }
  }
  await t.step(
    "--crlf, SQL from stdin, and a repeated query (cached)",
    async () => {
      const sql = QUERIES[1];
      const local = await query(QUERY_FLAGS, [
        "--vault",
        v.path,
        "--local",
        "-f",
        "csv",
        "--crlf",
        "-",
      ], sql);
      for (let i = 0; i < 2; i++) {
        const remote = await query(
          NO_FFI,
          ["--vault", v.path, "-f", "csv", "--crlf", "-"],
          sql,
        );
        assertEquals(remote.code, 0, remote.stderr);
        assertEquals(remote.stdout, local.stdout);
        assert(remote.stdout.includes("\r\n"));
      }
    },
  );
  await t.step(
    "--out FILE through the server: the file a local run writes",
    async () => {
      const sql = QUERIES[0];
      const remote = join(v.path, "remote.json");
      const local = join(v.path, "local.json");
      const r = await query([...NO_FFI, `--allow-write=${v.path}`], [
        "--vault",
        v.path,
        "-f",
        "json",
        "--out",
        remote,
        sql,
      ]);
      assertEquals(r.code, 0, r.stderr);
      const l = await query(QUERY_FLAGS, [
        "--vault",
        v.path,
        "--local",
        "-f",
        "json",
        "--out",
        local,
        sql,
      ]);
      assertEquals(l.code, 0, l.stderr);
      assertEquals(
        await Deno.readTextFile(remote),
        await Deno.readTextFile(local),
      );
      const again = await query([...NO_FFI, `--allow-write=${v.path}`], [
        "--vault",
        v.path,
        "--out",
        remote,
        sql,
      ]);
      assertEquals(again.code, 2); // never replaces a file
      assertMatch(again.stderr, /Refusing to replace/);
    },
  );
  await t.step("--local runs here: without FFI it cannot", async () => {
    const r = await query(NO_FFI, ["--vault", v.path, "--local", "SELECT 1"]);
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /ffi/);
  });
  await t.step("a client in another time zone runs here", async () => {
    const r = await runDeno(
      [
        "run",
        ...NO_FFI,
        join(ROOT, "tasks", "query.ts"),
        "--vault",
        v.path,
        "SELECT 1",
      ],
      { env: { TZ: "Asia/Tokyo" } },
    );
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /ffi/);
  });
  await t.step(
    "after a new index it answers from the new catalog, not its cache",
    async () => {
      const sql = "SELECT count(*) AS n FROM catalog";
      const before = await query(NO_FFI, ["--vault", v.path, "-f", "csv", sql]);
      await writeSpecimen(v.path, {
        id: "added_later",
        domain: "interpretability",
        method: "probe_training",
      });
      await indexVault({ vault: v.path });
      const after = await query(NO_FFI, ["--vault", v.path, "-f", "csv", sql]);
      assertEquals(after.code, 0, after.stderr);
      assertEquals(
        Number(after.stdout.split("\n")[1]),
        Number(before.stdout.split("\n")[1]) + 1,
      );
    },
  );
  await t.step(
    "a process-dependent query (current_setting) runs here",
    async () => {
      const sql = "SELECT current_setting('memory_limit') AS m";
      const r = await query(NO_FFI, ["--vault", v.path, sql]);
      assertEquals(r.code, 1);
      assertMatch(r.stderr, /ffi/);
      assertEquals(
        (await query(QUERY_FLAGS, ["--vault", v.path, sql])).code,
        0,
      );
    },
  );
});

Deno.test("query task via serve: refused and failing SQL give the local run's error and exit code", async (t) => {
  await using v = await indexedQueryVault();
  await using _server = await serve(v.path);
  for (
    const [sql, code] of [
      ["DELETE FROM catalog", 2],
      ["SELECT * FROM read_csv('/etc/passwd')", 2],
      ["SELECT write_log('x')", 2],
      ["SELECT * FROM catalog; DROP TABLE catalog", 2],
      ["SELECT nosuchcolumn FROM catalog", 1],
      ["SELEC 1", 1],
      ["SELECT * FROM range(100000000) a, range(100000000) b", 1],
    ] as const
  ) {
    await t.step(sql, async () => {
      const args = ["--vault", v.path, "--timeout", "0.5", sql];
      const remote = await query(NO_FFI, args);
      const local = await query(QUERY_FLAGS, ["--local", ...args]);
      assertEquals(local.code, code, local.stderr);
      assertEquals(remote.code, code, remote.stderr);
      assertEquals(remote.stderr, local.stderr);
      assertEquals(remote.stdout, "");
    });
  }
});

Deno.test("query server wants its token, and the file goes when the server stops", async () => {
  await using v = await indexedQueryVault();
  const server = await serve(v.path);
  const { port, token } = server.info;
  const url = `http://127.0.0.1:${port}${QUERY_ROUTE}`;
  const body = JSON.stringify({
    sql: "SELECT 1",
    format: "csv",
    crlf: false,
    timeout_seconds: 10,
    // The server runs with TZ=UTC (see serve()).
    time_zone: `UTC|${processTimeZone().split("|")[1]}`,
    vault: server.info.vault,
  });
  for (
    const auth of [undefined, "Bearer ", `Bearer ${"0".repeat(64)}`, token]
  ) {
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: auth === undefined ? {} : { authorization: auth },
    });
    await res.body?.cancel();
    assertEquals(res.status, 401, `authorization ${auth}`);
  }
  const nonce = "12".repeat(32);
  const ok = await fetch(url, {
    method: "POST",
    body,
    headers: {
      authorization: `Bearer ${token}`,
      "x-specimen-vault-nonce": nonce,
    },
  });
  assertEquals(ok.status, 200);
  // Heartbeat spaces, the frame's line, the answer; proved with the token.
  const framed = new Uint8Array(await ok.arrayBuffer());
  const answer = await unframe(framed, token, nonce);
  assert(answer !== undefined && answer !== "unproven");
  assertEquals(answer.kind, "result");
  assertEquals(new TextDecoder().decode(answer.body), "1\n1\n");
  assertEquals(await unframe(framed, "0".repeat(64), nonce), "unproven");
  assertEquals(await unframe(framed, token, "34".repeat(32)), "unproven");
  await server[Symbol.asyncDispose]();
  assert(!(await exists(serverFile(v.path))), "the file outlived its server");
});

Deno.test("query task ignores a stale server file (dead pid, wrong token, another folder) and runs here", async (t) => {
  await using v = await indexedQueryVault();
  await using other = await indexedQueryVault();
  await writeSpecimen(other.path, {
    id: "only_in_other",
    domain: "interpretability",
    method: "probe_training",
  });
  await indexVault({ vault: other.path });
  const sql = "SELECT count(*) AS n FROM catalog";
  const expected =
    (await query(QUERY_FLAGS, ["--vault", v.path, "-f", "csv", sql])).stdout;
  await using server = await serve(other.path);
  const good = server.info;

  await t.step(
    "a server file copied from another vault: removed, answered here",
    async () => {
      await Deno.copyFile(serverFile(other.path), serverFile(v.path));
      const r = await query(QUERY_FLAGS, ["--vault", v.path, "-f", "csv", sql]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, expected); // not the other vault's count
      assert(!(await exists(serverFile(v.path))));
    },
  );

  await t.step(
    "a server gone (its pid dead, nothing on its port): removed, answered here",
    async () => {
      const dead = new Deno.Command("true").spawn();
      const { success } = await dead.status;
      assert(success);
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = listener.addr.port;
      listener.close();
      const vault =
        JSON.parse(await Deno.readTextFile(serverFile(other.path))).vault;
      const here = await Deno.stat(v.path);
      await writeServerFile(
        serverFile(v.path),
        JSON.stringify({
          ...good,
          pid: dead.pid,
          port,
          vault: {
            ...vault,
            path: await Deno.realPath(v.path),
            ino: here.ino,
            dev: here.dev,
          },
        }),
      );
      const r = await query(QUERY_FLAGS, ["--vault", v.path, "-f", "csv", sql]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, expected);
      assert(!(await exists(serverFile(v.path))));
    },
  );

  await t.step(
    "a live server of another vault, or a wrong token: kept, answered here",
    async () => {
      const here = await Deno.stat(v.path);
      const identity = {
        path: await Deno.realPath(v.path),
        dev: here.dev,
        ino: here.ino,
      };
      for (const token of [good.token, "f".repeat(64)]) {
        const text = JSON.stringify({ ...good, token, vault: identity });
        await writeServerFile(serverFile(v.path), text);
        const r = await query(QUERY_FLAGS, [
          "--vault",
          v.path,
          "-f",
          "csv",
          sql,
        ]);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stdout, expected);
        const noFfi = await query(NO_FFI, [
          "--vault",
          v.path,
          "-f",
          "csv",
          sql,
        ]);
        assertEquals(noFfi.code, 1); // it fell back to DuckDB here
        assertMatch(noFfi.stderr, /ffi/);
        assertEquals(await Deno.readTextFile(serverFile(v.path)), text);
      }
    },
  );

  await t.step("a malformed file: ignored", async () => {
    await writeServerFile(serverFile(v.path), "{not json");
    const r = await query(QUERY_FLAGS, ["--vault", v.path, "-f", "csv", sql]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, expected);
  });
});
