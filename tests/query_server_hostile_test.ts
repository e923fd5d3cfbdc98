/**
 * `deno task query` against a server that stops answering or was never the
 * vault's, and against hostile `vault.duckdb.server` files (issue 22,
 * items 6 and 7): real client processes, a real `deno task serve`, and fake
 * servers listening in this process. Every case ends (a guard kills a
 * client after 60 s, and the case fails), prints the local answer, and says
 * in one `note:` line why the server was not used.
 */
import { join } from "../lib/_deps.ts";
import { answerProof } from "../lib/query/query_server.ts";
import { indexedQueryVault } from "./testdata/catalog_fixtures.ts";
import { assert, assertEquals, assertMatch, ROOT, taskFlags } from "./utils.ts";

const QUERY_FLAGS = await taskFlags("query");
const SERVE_FLAGS = await taskFlags("serve");
const SQL = "SELECT count(*) AS n FROM catalog";

const serverFile = (vault: string) => join(vault, "vault.duckdb.server");

/** The query task as a subprocess, killed (and failed) after 60 s. */
async function query(vault: string, ...flags: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...QUERY_FLAGS,
      join(ROOT, "tasks", "query.ts"),
      "--vault",
      vault,
      "-f",
      "csv",
      ...flags,
      SQL,
    ],
    env: { NO_COLOR: "1", TZ: "UTC" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert(out.signal === null, `the client hung and was killed`);
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** `deno task serve` for `vault` on a free port, until disposed. */
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
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 1200 && !(await exists(serverFile(vault))); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    text: await Deno.readTextFile(serverFile(vault)),
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      } catch { /* ended */ }
      await child.status;
    },
  };
}

/** A file as a server writes it (mode 0600) for a fake on `port`. */
async function fakeFile(vault: string, port: number, token = "ab".repeat(32)) {
  const st = await Deno.stat(vault);
  const text = JSON.stringify({
    format: "specimen-vault query server",
    version: 1,
    pid: Deno.pid, // alive, and not stopped
    host: "127.0.0.1",
    port,
    token,
    vault: { path: await Deno.realPath(vault), dev: st.dev, ino: st.ino },
  });
  await Deno.writeTextFile(serverFile(vault), text, { mode: 0o600 });
  await Deno.chmod(serverFile(vault), 0o600);
}

/**
 * A fake server in this process: `answer` writes whatever it likes on each
 * connection, after the request's head came.
 */
function fakeServer(answer: (conn: Deno.Conn, nonce: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(65536);
        let text = "";
        while (!text.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) return;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        const nonce = /x-specimen-vault-nonce: (\w+)/i.exec(text)?.[1] ?? "";
        await answer(conn, nonce);
      })().catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
}

const enc = (s: string) => new TextEncoder().encode(s);

function notes(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("note: "));
}

Deno.test("deno task query --timeout 2 against a stopped server (kill -STOP) runs the query here, with a note", async () => {
  await using v = await indexedQueryVault();
  const expected = (await query(v.path, "--local")).stdout;
  await using server = await serve(v.path);
  const warm = await query(v.path, "--timeout", "2");
  assertEquals([warm.code, warm.stdout, notes(warm.stderr)], [0, expected, []]);
  server.child.kill("SIGSTOP");
  for (const flags of [["--timeout", "2"], ["--timeout", "0"], []]) {
    const r = await query(v.path, ...flags);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, expected);
    assertEquals(notes(r.stderr).length, 1, r.stderr);
    assertMatch(
      r.stderr,
      /note: the query server .*: it sent nothing for 3 s \(is it stopped\?\); running the query here/,
    );
  }
  // The file is the live server's: kept, and used again once it runs on.
  assertEquals(await Deno.readTextFile(serverFile(v.path)), server.text);
  server.child.kill("SIGCONT");
  const again = await query(v.path);
  assertEquals([again.code, again.stdout, notes(again.stderr)], [
    0,
    expected,
    [],
  ]);
});

Deno.test("deno task query leaves a server that does not prove it holds the token, answers too slowly or floods, and runs here", async (t) => {
  await using v = await indexedQueryVault();
  const expected = (await query(v.path, "--local")).stdout;
  const token = "cd".repeat(32);
  const forged = enc("n\n424242\n");
  const head = () =>
    enc(
      "HTTP/1.1 200 OK\r\nx-specimen-vault-answer: framed\r\n" +
        "transfer-encoding: chunked\r\n\r\n",
    );
  const chunk = (bytes: Uint8Array) =>
    new Uint8Array([
      ...enc(`${bytes.length.toString(16)}\r\n`),
      ...bytes,
      ...enc("\r\n"),
    ]);
  const last = enc("0\r\n\r\n");
  const line = (kind: string, proof: string) =>
    enc(JSON.stringify({ kind, length: forged.length, proof }) + "\n");
  const endless = async (conn: Deno.Conn, byte: string) => {
    const bytes = chunk(enc(byte.repeat(0x10000)));
    for (;;) await conn.write(bytes);
  };
  const cases: [
    string,
    (c: Deno.Conn, nonce: string) => Promise<void>,
    RegExp | null,
  ][] = [
    ["its own result, a proof of zeros", async (c) => {
      await c.write(head());
      await c.write(
        chunk(new Uint8Array([...line("result", "0".repeat(64)), ...forged])),
      );
      await c.write(last);
    }, /did not prove it holds the file's token/],
    ["its own result, proved with another token", async (c, nonce) => {
      const proof = await answerProof("ef".repeat(32), nonce, "result", forged);
      await c.write(head());
      await c.write(
        chunk(new Uint8Array([...line("result", proof), ...forged])),
      );
      await c.write(last);
    }, /did not prove it holds the file's token/],
    ["its own result, no proof", async (c) => {
      await c.write(head());
      await c.write(
        chunk(
          new Uint8Array([...enc('{"kind":"result","length":9}\n'), ...forged]),
        ),
      );
      await c.write(last);
    }, /sent a malformed or cut answer/],
    ["heartbeats for ever (a deadline: --timeout 1 and 3 s)", async (c) => {
      await c.write(head());
      for (;;) {
        await c.write(chunk(enc(" ")));
        await new Promise((r) => setTimeout(r, 100));
      }
    }, /did not answer within 4 s/],
    ["an endless answer", async (c) => {
      await c.write(head());
      await endless(c, "9");
    }, /did not answer within 4 s|its answer passed/],
    ["endless bytes that are not HTTP", async (c) => {
      for (;;) await c.write(enc("x".repeat(0x10000)));
    }, /headers passed 65536 bytes/],
    ["nothing at all after accepting", async () => {
      await new Promise(() => {});
    }, /sent nothing for 3 s/],
    ["a decline, then endless bytes", async (c) => {
      await c.write(
        enc("HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n"),
      );
      await endless(c, "x");
    }, null],
  ];
  for (const [name, answer, note] of cases) {
    await t.step(name, async () => {
      await using fake = fakeServer(answer);
      await fakeFile(v.path, fake.port, token);
      const r = await query(v.path, "--timeout", "1");
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, expected);
      assert(!r.stdout.includes("424242") && !r.stdout.includes("999"));
      if (note) {
        assertEquals(notes(r.stderr).length, 1, r.stderr);
        assertMatch(r.stderr, note);
      } else assertEquals(notes(r.stderr), []);
    });
  }
});

Deno.test("deno task query reads vault.duckdb.server only as a small private regular file of its user", async (t) => {
  await using v = await indexedQueryVault();
  const expected = (await query(v.path, "--local")).stdout;
  const file = serverFile(v.path);
  const good = join(v.path, "elsewhere.json");
  await fakeFile(v.path, 1);
  await Deno.rename(file, good);
  const cases: [string, () => Promise<void>, RegExp][] = [
    ["a FIFO", async () => {
      await new Deno.Command("mkfifo", { args: [file] }).output();
    }, /it is a FIFO \(named pipe\), not a regular file/],
    [
      "a link to /dev/zero",
      () => Deno.symlink("/dev/zero", file),
      /it is a symbolic link/,
    ],
    [
      "a link to a good file",
      () => Deno.symlink(good, file),
      /it is a symbolic link/,
    ],
    ["a directory", () => Deno.mkdir(file), /it is a directory/],
    ["a file of 5,000 bytes", async () => {
      await Deno.writeTextFile(file, " ".repeat(5000), { mode: 0o600 });
    }, /it holds 5000 bytes, more than 4096/],
    ["a file others may read (0644)", async () => {
      await Deno.copyFile(good, file);
      await Deno.chmod(file, 0o644);
    }, /group or others may read or write it \(mode 0644/],
    ["a file group members may write (0620)", async () => {
      await Deno.copyFile(good, file);
      await Deno.chmod(file, 0o620);
    }, /mode 0620/],
  ];
  if (Deno.uid() === 0) {
    cases.push(["a file of another user's", async () => {
      await Deno.copyFile(good, file);
      await Deno.chown(file, 65534, 65534);
    }, /it belongs to another user \(uid 65534/]);
  }
  for (const [name, make, note] of cases) {
    await t.step(name, async () => {
      await make();
      try {
        const r = await query(v.path, "--timeout", "2");
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stdout, expected);
        assertEquals(notes(r.stderr).length, 1, r.stderr);
        assertMatch(r.stderr, note);
        assert(await exists(file), "a file not trusted is not removed either");
      } finally {
        await Deno.remove(file, { recursive: true });
      }
    });
  }
});
