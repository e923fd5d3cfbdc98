import { join } from "../lib/_deps.ts";
import { InvalidInputError } from "../lib/errors.ts";
import {
  followJsonl,
  type FollowOptions,
  type JsonlProblem,
  type JsonlRow,
} from "../lib/bridge/jsonl_follow.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  tempDir,
  until,
} from "./utils.ts";
import { PYTHON } from "./_python.ts";

async function collect(path: string, options: FollowOptions = {}) {
  const rows: JsonlRow[] = [];
  const problems: JsonlProblem[] = [];
  for await (const b of followJsonl(path, options)) {
    rows.push(...b.rows);
    problems.push(...b.problems);
  }
  return { rows, problems };
}

function python(script: string, ...args: string[]) {
  return new Deno.Command(PYTHON, {
    args: ["-u", "-c", script, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Resolves when the child has printed `word` on stdout. */
async function waitFor(child: Deno.ChildProcess, word: string): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(word)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child ended before printing "${word}"`);
    seen += value;
  }
  reader.releaseLock();
}

/**
 * Follows `file` in the background, gathering its rows and problems until
 * `stop` is aborted; `following` ends then.
 */
function follow(file: string) {
  const stop = new AbortController();
  const rows: JsonlRow[] = [];
  const problems: JsonlProblem[] = [];
  const following = (async () => {
    for await (const b of followJsonl(file, { signal: stop.signal })) {
      rows.push(...b.rows);
      problems.push(...b.problems);
    }
  })();
  return { stop, rows, problems, following };
}

Deno.test("followJsonl() reads a Python child's lines as it appends them and reports the torn line left by SIGKILL", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "metrics.jsonl");
  const { stop, rows, problems, following } = follow(file);
  const child = python(
    `
import json, sys, time
with open(sys.argv[1], 'a') as f:
    for step in range(500):
        f.write(json.dumps({"step": step, "loss": 1 / (step + 1), "_table": "train" if step % 2 else "eval"}) + "\\n")
        f.flush()
        if step % 100 == 0: time.sleep(0.05)
    f.write('{"step": 500, "loss": 0.0')
    f.flush()
    print("ready", flush=True)
    time.sleep(60)
`,
    file,
  );
  await waitFor(child, "ready");
  child.kill("SIGKILL");
  const status = await child.status;
  assertEquals(status.signal, "SIGKILL");
  stop.abort();
  await following;
  assertEquals(rows.length, 500);
  rows.forEach((r, i) => {
    assertEquals(r.line, i + 1);
    assertEquals(r.value.step, i);
    assertEquals(r.value._table, i % 2 ? "train" : "eval");
  });
  assertEquals(problems.map((p) => [p.line, p.kind]), [[501, "torn"]]);
  assert(problems[0].message.includes(file), problems[0].message);
});

Deno.test("followJsonl() keeps every complete line of a fast writer killed at a random moment", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "metrics.jsonl");
  const { stop, rows, problems, following } = follow(file);
  const child = python(
    `
import json, sys
f = open(sys.argv[1], 'a', buffering=1 << 16)
print("ready", flush=True)
step = 0
while True:
    f.write(json.dumps({"step": step, "loss": 0.5, "acc": 0.9, "lr": 1e-3, "epoch": step // 1000}) + "\\n")
    step += 1
`,
    file,
  );
  await waitFor(child, "ready");
  await until(() => rows.length > 1000, "the follower to read 1,000 rows");
  child.kill("SIGKILL");
  await child.status;
  stop.abort();
  await following;
  assert(rows.length > 1000, `only ${rows.length} rows`);
  rows.forEach((r, i) => {
    if (r.line !== i + 1 || r.value.step !== i) {
      throw new Error(`row ${i}: line ${r.line}, step ${r.value.step}`);
    }
  });
  // The kill may land between lines or inside one.
  assert(problems.length <= 1, JSON.stringify(problems));
  if (problems.length) assertEquals(problems[0].kind, "torn");
  const bytes = (await Deno.stat(file)).size;
  const text = await Deno.readTextFile(file);
  assertEquals(text.split("\n").length - 1, rows.length, `${bytes} bytes`);
});

Deno.test("followJsonl() reports bad lines with their numbers and keeps the good ones", async (t) => {
  await using dir = await tempDir();
  const cases: [string, Uint8Array, [number, string][], number[]][] = [
    [
      "not JSON, not objects, blank and CRLF lines",
      new TextEncoder().encode(
        '{"a": 1}\nnot json\n[1, 2]\n42\nnull\n"text"\n\n   \n{"a": 2}\r\n{"a": 3}\n',
      ),
      [[2, "not_json"], [3, "not_object"], [4, "not_object"], [
        5,
        "not_object",
      ], [6, "not_object"]],
      [1, 9, 10],
    ],
    [
      "a non-UTF-8 line",
      new Uint8Array([
        ...new TextEncoder().encode('{"a": 1}\n{"b": "'),
        0xff,
        0xfe,
        ...new TextEncoder().encode('"}\n{"a": 2}\n'),
      ]),
      [[2, "not_utf8"]],
      [1, 3],
    ],
    [
      "a line without its newline at the end",
      new TextEncoder().encode('{"a": 1}\n{"a": 2'),
      [[2, "torn"]],
      [1],
    ],
  ];
  for (const [name, bytes, expected, good] of cases) {
    await t.step(name, async () => {
      const file = join(dir.path, `${name.length}.jsonl`);
      await Deno.writeFile(file, bytes);
      // Tiny chunks put line ends at every position of a chunk.
      for (const chunkBytes of [3, 7, 1 << 20]) {
        const { rows, problems } = await collect(file, { chunkBytes });
        assertEquals(problems.map((p) => [p.line, p.kind]), expected);
        assertEquals(rows.map((r) => r.line), good);
        for (const p of problems) assert(p.message.includes(`line ${p.line}`));
      }
    });
  }
});

Deno.test("followJsonl() fails clearly after more bad lines than the limit", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "bad.jsonl");
  await Deno.writeTextFile(
    file,
    '{"ok": 1}\n' + "oops\n".repeat(101) + '{"ok": 2}\n',
  );
  const seen: JsonlRow[] = [];
  const e = await assertRejects(
    async () => {
      for await (const b of followJsonl(file)) seen.push(...b.rows);
    },
    InvalidInputError,
    "101 bad lines, over the limit of 100",
  );
  assert(e.message.includes(file));
  const small = await assertRejects(
    () => collect(file, { maxBadLines: 3 }),
    InvalidInputError,
    "4 bad lines, over the limit of 3",
  );
  assert(small.message.includes("line 5"), small.message);
  // 100 bad lines are tolerated.
  await Deno.writeTextFile(file, "oops\n".repeat(100) + '{"ok": 2}\n');
  const { rows, problems } = await collect(file);
  assertEquals(rows.map((r) => r.line), [101]);
  assertEquals(problems.length, 100);
});

Deno.test({
  name:
    "followJsonl() skips a 100 MB line without buffering it and reads the lines after it",
  async fn() {
    await using dir = await tempDir();
    const file = join(dir.path, "huge.jsonl");
    const child = new Deno.Command(PYTHON, {
      args: [
        "-c",
        `
import sys
with open(sys.argv[1], 'w') as f:
    f.write('{"step": 0}\\n')
    f.write('{"blob": "' + 'x' * (100 * 1024 * 1024) + '"}\\n')
    f.write('{"step": 1}\\n')
    f.write('{"blob": "' + 'y' * (20 * 1024 * 1024))
`,
        file,
      ],
    });
    assert((await child.output()).success);
    const before = Deno.memoryUsage().rss;
    let peak = before;
    const rows: JsonlRow[] = [];
    const problems: JsonlProblem[] = [];
    for await (const b of followJsonl(file)) {
      rows.push(...b.rows);
      problems.push(...b.problems);
      peak = Math.max(peak, Deno.memoryUsage().rss);
    }
    assertEquals(rows.map((r) => [r.line, r.value.step]), [[1, 0], [3, 1]]);
    assertEquals(problems.map((p) => [p.line, p.kind]), [
      [2, "too_long"],
      [4, "torn"],
    ]);
    assert(
      problems[0].message.includes("104857612 bytes"),
      problems[0].message,
    );
    // Held whole, the line would cost over 100 MB as bytes and 200 MB as a
    // string; the follower keeps at most the 16 MiB limit (grown by
    // doubling, so up to ~32 MiB of garbage) plus its read buffer.
    assert(
      peak - before < 96 * 1024 * 1024,
      `RSS grew by ${((peak - before) / 1e6).toFixed(0)} MB`,
    );
  },
});

Deno.test("followJsonl() waits for the file to appear, and ends at once if stopped before", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "later.jsonl");
  const stopped = new AbortController();
  stopped.abort();
  assertEquals(await collect(file, { signal: stopped.signal }), {
    rows: [],
    problems: [],
  });
  const stop = new AbortController();
  const rows: JsonlRow[] = [];
  const following = (async () => {
    for await (const b of followJsonl(file, { signal: stop.signal })) {
      rows.push(...b.rows);
    }
  })();
  // The follower has looked for the file (and not found it) at least once.
  await new Promise((r) => setTimeout(r, 0));
  await Deno.writeTextFile(file, '{"step": 1}\n');
  await until(() => rows.length === 1, "the follower to read the line");
  stop.abort();
  await following;
  assertEquals(rows.map((r) => r.value.step), [1]);
});

Deno.test("followJsonl() reads the NaN and ±Infinity Python's json.dumps writes, and leaves such words inside strings alone", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "metrics.jsonl");
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      `
import json, sys
rows = [
    {"step": 0, "loss": float("nan")},
    {"step": 1, "loss": float("inf"), "grad": float("-inf")},
    {"step": 2, "note": "NaN and -Infinity stay text", "loss": 0.5},
    {"step": 3, "nested": {"x": [float("nan"), 1.0]}, "tag": "say \\"Infinity\\""},
]
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\\n")
    f.write('{"step": 4, "loss": NaNx}\\n')
`,
      file,
    ],
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const { rows, problems } = await collect(file);
  const v = rows.map((r) => r.value);
  assertEquals(v.length, 4);
  assert(Number.isNaN(v[0].loss));
  assertEquals(v[1].loss, Infinity);
  assertEquals(v[1].grad, -Infinity);
  assertEquals(v[2].note, "NaN and -Infinity stay text");
  assertEquals(v[2].loss, 0.5);
  const nested = v[3].nested as { x: number[] };
  assert(Number.isNaN(nested.x[0]) && nested.x[1] === 1);
  assertEquals(v[3].tag, 'say "Infinity"');
  // A word that is not one of the three is still not JSON, and reported.
  assertEquals(problems.map((p) => [p.line, p.kind]), [[5, "not_json"]]);
});
