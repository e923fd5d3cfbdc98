import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import {
  createDashboard,
  isLoopbackHost,
  serveDashboard,
} from "../lib/dashboard/server.ts";
import { readZarr } from "../lib/formats/zarr/zarr.ts";
import {
  addExampleSpecimen,
  EXAMPLE_ID,
  serveVault,
} from "./testdata/dashboard_fixtures.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  tempVault,
} from "./utils.ts";

const STEPS = 100_000;
const SPIKE_STEP = 12_345;

/** The example specimen, five small fixtures and one long, spiky curve. */
async function fixtureVault() {
  const v = await tempVault();
  await addExampleSpecimen(v.path);
  const specs = [
    ["sae_a", "interpretability", "sae_analysis", ["gpt2"], "2024-02-01"],
    [
      "sae_b",
      "interpretability",
      "sae_analysis",
      ["gpt2", "sweep"],
      "2024-02-02",
    ],
    ["probe_a", "interpretability", "probe_training", ["pythia"], "2024-02-03"],
    ["ft_a", "training", "fine_tuning", ["pythia", "sweep"], "2024-03-01"],
    ["ft_b", "training", "fine_tuning", [], "2024-03-02"],
  ] as const;
  for (const [id, domain, method, tags, day] of specs) {
    await writeSpecimen(v.path, {
      id,
      domain,
      method,
      tags: [...tags],
      created: `${day}T12:00:00Z`,
      description: `fixture ${id} about ${method.replace("_", " ")}`,
      model: (tags as readonly string[]).includes("pythia")
        ? "pythia-70m"
        : "gpt2",
      metrics:
        `SELECT range::BIGINT AS step, 1.0 / (range + 1) AS loss, range / 10.0 AS accuracy FROM range(10)`,
    });
  }
  // 100,000 steps of a smooth curve with one spike: downsampling must keep it.
  await writeSpecimen(v.path, {
    id: "long_run",
    domain: "training",
    method: "fine_tuning",
    created: "2024-04-01T00:00:00Z",
    metrics: `SELECT range::BIGINT AS step,
      CASE WHEN range = ${SPIKE_STEP} THEN 100.0 ELSE sin(range / 1000.0) END AS loss,
      CASE WHEN range % 2 = 0 THEN NULL ELSE range * 1.0 END AS sparse,
      (range // 5000)::DOUBLE AS plateau
      FROM range(${STEPS})`,
  });
  return v;
}

async function getJson(url: string) {
  const res = await fetch(url);
  const body = await res.json();
  return { status: res.status, body, headers: res.headers };
}

async function postSql(base: string, sql: string, format?: string) {
  const res = await fetch(new URL("/api/sql", base), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql, format }),
  });
  return res;
}

/** Sends one raw HTTP/1.1 request (the path as written, not normalized). */
async function rawRequest(
  port: number,
  path: string,
  host = `127.0.0.1:${port}`,
): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer(),
    );
    return { status: Number(text.split(" ")[1]), text };
  } catch (e) {
    try {
      conn.close();
    } catch { /* closed by the stream */ }
    throw e;
  }
}

Deno.test("dashboard API over a real server on a free port", async (t) => {
  await using v = await fixtureVault();
  await using server = await serveVault(v.path);
  const base = server.url;
  assertMatch(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const api = (path: string) => getJson(new URL(path, base).href);

  await t.step(
    "serves the page and its assets from memory, with a CSP",
    async () => {
      const page = await fetch(base);
      assertEquals(page.status, 200);
      assertMatch(page.headers.get("content-type")!, /text\/html/);
      assertMatch(
        page.headers.get("content-security-policy")!,
        /script-src 'self'/,
      );
      const html = await page.text();
      assertMatch(html, /\/assets\/uplot\.js/);
      for (
        const [path, type] of [
          ["/assets/app.js", /javascript/],
          ["/assets/uplot.js", /javascript/],
          ["/assets/uplot.css", /css/],
          ["/assets/app.css", /css/],
        ] as const
      ) {
        const res = await fetch(new URL(path, base));
        assertEquals(res.status, 200, path);
        assertMatch(res.headers.get("content-type")!, type);
        assert((await res.text()).length > 100);
      }
      const uplot = await (await fetch(new URL("/assets/uplot.js", base)))
        .text();
      assertMatch(uplot, /uPlot/);
    },
  );

  await t.step(
    "serves every script module app.js imports, as JavaScript, each import resolving to a served module",
    async () => {
      const seen = new Set<string>();
      const queue = ["/assets/app.js"];
      while (queue.length) {
        const path = queue.pop()!;
        if (seen.has(path)) continue;
        seen.add(path);
        const res = await fetch(new URL(path, base));
        assertEquals(res.status, 200, path);
        assertMatch(res.headers.get("content-type")!, /^text\/javascript/);
        const text = await res.text();
        for (const m of text.matchAll(/^import [^;]* from "([^"]+)";$/gm)) {
          queue.push(new URL(m[1], new URL(path, base)).pathname);
        }
      }
      // The router, the shared modules and one module per page.
      for (
        const page of [
          "catalog",
          "specimen",
          "compare",
          "sql",
          "scatter",
          "parallel",
        ]
      ) assert(seen.has(`/assets/pages/${page}.js`), [...seen].join(", "));
      assert(seen.size >= 10, [...seen].join(", "));
    },
  );

  await t.step("GET /api/info names the vault and the catalog", async () => {
    const { status, body } = await api("/api/info");
    assertEquals(status, 200);
    assertEquals(body.vault, v.path);
    assertEquals(body.catalog.present, true);
    assertEquals(body.catalog.specimens, 7);
  });

  await t.step(
    "GET /api/catalog lists, counts, filters, searches, sorts and pages",
    async () => {
      const all = (await api("/api/catalog")).body;
      assertEquals(all.total, 7);
      assertEquals(all.matched, 7);
      assertEquals(all.rows[0].specimen_id, EXAMPLE_ID); // newest first
      const ex = all.rows[0];
      assertEquals(ex.domain, "interpretability");
      assertEquals(ex.method, "sae_analysis");
      assertEquals(ex.model, "gpt2");
      assertEquals(ex.tags, ["synthetic", "demo", "gpt2"]);
      assertEquals(typeof ex.created, "string");
      assertEquals(typeof ex.status, "string");
      assertEquals(
        Object.fromEntries(all.facets.domain),
        { interpretability: 4, training: 3 },
      );
      assertEquals(Object.fromEntries(all.facets.tag).sweep, 2);

      const ids = async (q: string) =>
        (await api(`/api/catalog?${q}`)).body.rows.map((
          r: { specimen_id: string },
        ) => r.specimen_id);
      assertEquals(await ids("domain=training&sort=specimen_id&order=asc"), [
        "ft_a",
        "ft_b",
        "long_run",
      ]);
      assertEquals(await ids("method=sae_analysis&sort=created&order=asc"), [
        "sae_a",
        "sae_b",
        EXAMPLE_ID,
      ]);
      assertEquals(await ids("tag=sweep&sort=specimen_id&order=asc"), [
        "ft_a",
        "sae_b",
      ]);
      assertEquals(await ids("tag=gpt2,sweep"), ["sae_b"]);
      assertEquals(
        await ids("since=2024-02-02&until=2024-03-01&sort=created&order=asc"),
        [
          "sae_b",
          "probe_a",
          "ft_a",
        ],
      );
      assertEquals(await ids("q=PROBE"), ["probe_a"]);
      assertEquals(await ids("q=about%20FINE"), ["ft_b", "ft_a"]);
      assertEquals(await ids("q=pythia&sort=specimen_id&order=asc"), [
        "ft_a",
        "probe_a",
      ]);
      const page =
        (await api("/api/catalog?sort=specimen_id&order=asc&limit=2&offset=2"))
          .body;
      assertEquals(page.matched, 7);
      assertEquals(
        page.rows.map((r: { specimen_id: string }) => r.specimen_id),
        [
          "ft_b",
          "long_run",
        ],
      );
    },
  );

  await t.step(
    "GET /api/catalog refuses a bad sort, date or limit, naming the fix",
    async () => {
      for (
        const [q, pattern] of [
          ["sort=description;DROP", /Invalid sort .*sort by one of/],
          ["order=sideways", /use asc or desc/],
          ["since=yesterday", /Invalid since "yesterday": pass a date/],
          [
            "limit=5000",
            /Invalid limit "5000": pass a whole number from 1 to 1000/,
          ],
        ] as const
      ) {
        const { status, body } = await api(`/api/catalog?${q}`);
        assertEquals(status, 400, q);
        assertMatch(body.error, pattern);
      }
    },
  );

  await t.step(
    "GET /api/specimens/:id has manifest, provenance, tables, tensors and notes",
    async () => {
      const { status, body } = await api(`/api/specimens/${EXAMPLE_ID}`);
      assertEquals(status, 200);
      assertEquals(body.specimen.specimen_id, EXAMPLE_ID);
      assertEquals(body.specimen.manifest.specimen_id, EXAMPLE_ID);
      assert(body.specimen.provenance, "provenance recorded by the run");
      assertEquals(body.metric_tables[0].name, "metrics");
      assertEquals(body.metric_tables[0].rows, 100);
      assertEquals(body.tensors.length, 1);
      const t0 = body.tensors[0];
      assertEquals([t0.name, t0.shape, t0.dtype], [
        "activations",
        [100, 512],
        "float32",
      ]);
      assert(t0.bytes > 0);
      assertMatch(body.notes_html, /<h2>Hypothesis<\/h2>/);
      assertMatch(body.notes_html, /<code>loss<\/code>/);
    },
  );

  await t.step(
    "GET /api/specimens/:id refuses an invalid id and names the rule",
    async () => {
      const bad = await api("/api/specimens/Bad%20Id");
      assertEquals(bad.status, 400);
      assertMatch(
        bad.body.error,
        /Invalid specimen id "Bad Id".*\^\[A-Za-z0-9_\]\+\$/,
      );
      const missing = await api("/api/specimens/no_such_run");
      assertEquals(missing.status, 404);
      assertMatch(
        missing.body.error,
        /No specimen "no_such_run".*deno task index/,
      );
    },
  );

  await t.step("GET /api/curves draws a small series whole", async () => {
    const { body } = await api(
      `/api/curves?ids=${EXAMPLE_ID}&columns=loss,accuracy&width=800`,
    );
    assertEquals(body.series.length, 2);
    const [loss, acc] = body.series;
    assertEquals([loss.column, acc.column], ["loss", "accuracy"]);
    assertEquals(loss.downsampled, false);
    assertEquals(loss.n, 100);
    assertEquals(loss.x, Array.from({ length: 100 }, (_, i) => i));
    assertEquals([body.x0, body.x1], [0, 99]);
  });

  await t.step(
    "GET /api/curves downsamples 100,000 steps deterministically, keeping the spike",
    async () => {
      const url = "/api/curves?ids=long_run&columns=loss&width=500";
      const a = (await api(url)).body;
      const b = (await api(url)).body;
      assertEquals(a, b, "the same request gives the same points");
      const s = a.series[0];
      assertEquals(s.n, STEPS);
      assertEquals(s.downsampled, true);
      assert(s.x.length <= 1000, `${s.x.length} points for 500 px`);
      assert(s.x.length >= 900, `every bucket kept its min and max`);
      const top = s.y.indexOf(Math.max(...s.y));
      assertEquals([s.x[top], s.y[top]], [SPIKE_STEP, 100]);
      assertEquals(Math.min(...s.y) < -0.9999, true);
      for (let i = 1; i < s.x.length; i++) assert(s.x[i] >= s.x[i - 1]);
    },
  );

  await t.step(
    "GET /api/curves keeps the lowest step among equal extremes",
    async () => {
      const { body } = await api(
        "/api/curves?ids=long_run&columns=plateau&width=10",
      );
      const s = body.series[0];
      const want = Array.from({ length: 10 }, (_, j) => [
        [10_000 * j, 2 * j],
        [10_000 * j + 5_000, 2 * j + 1],
      ]).flat();
      assertEquals(s.x.map((x: number, i: number) => [x, s.y[i]]), want);
    },
  );

  await t.step(
    "GET /api/curves refetches a zoomed range at full resolution",
    async () => {
      const { body } = await api(
        `/api/curves?ids=long_run&columns=loss&width=800&x0=12000&x1=12600`,
      );
      const s = body.series[0];
      assertEquals(s.downsampled, false);
      assertEquals(s.n, 601);
      assertEquals(s.x[0], 12000);
      assertEquals(s.x.at(-1), 12600);
      assertEquals(s.y[SPIKE_STEP - 12000], 100);
      assertEquals(s.y[1], Math.sin(12001 / 1000));
      const sparse = (await api(
        `/api/curves?ids=long_run&columns=sparse&width=800&x0=0&x1=9`,
      )).body.series[0];
      assertEquals(sparse.x, [1, 3, 5, 7, 9], "NULLs are gaps, not zeros");
      const full =
        (await api(`/api/curves?ids=long_run&columns=loss&width=10&full=1`))
          .body.series[0];
      assertEquals(full.x.length, STEPS);
    },
  );

  await t.step(
    "GET /api/curves overlays specimens and reports what it cannot draw",
    async () => {
      const { body } = await api(
        `/api/curves?ids=ft_a,ft_b,${EXAMPLE_ID}&columns=accuracy&width=400`,
      );
      assertEquals(
        body.series.map((s: { specimen_id: string }) => s.specimen_id),
        ["ft_a", "ft_b", EXAMPLE_ID],
      );
      const missing =
        (await api(`/api/curves?ids=ft_a,long_run&columns=accuracy&width=400`))
          .body;
      assertEquals(missing.series.length, 1);
      assertEquals(missing.missing, [{
        specimen_id: "long_run",
        column: "accuracy",
        reason: "no such column",
      }]);
      // Any column name is looked up, quoted, never spliced into SQL.
      const odd = (await api(
        `/api/curves?ids=ft_a&columns=${
          encodeURIComponent('loss"; DROP TABLE catalog; --')
        }&width=10`,
      )).body;
      assertEquals(odd.series.length, 0);
      assertEquals(odd.missing[0].reason, "no such column");
      for (
        const [q, pattern] of [
          ["ids=ft_a&columns=loss&width=0", /Invalid width/],
          ["ids=ft_a&columns=loss%01&width=10", /Invalid metric column/],
          ["ids=../x&columns=loss&width=10", /Invalid specimen id/],
          ["ids=ft_a&columns=loss&width=10&x0=5&x1=1", /x0 5 is above x1 1/],
          ["ids=ft_a&width=10", /No metric column given/],
        ] as const
      ) {
        const r = await api(`/api/curves?${q}`);
        assertEquals(r.status, 400, q);
        assertMatch(r.body.error, pattern);
      }
    },
  );

  await t.step(
    "GET /api/summary gives final, min and max per specimen",
    async () => {
      const { body } = await api(`/api/summary?ids=ft_a,long_run&column=loss`);
      assertEquals(body.rows.length, 2);
      const [ft, long] = body.rows;
      assertEquals(ft.specimen_id, "ft_a");
      assertEquals(ft.final_step, 9);
      assertEquals(ft.final, 0.1);
      assertEquals(ft.min, 0.1);
      assertEquals(ft.max, 1);
      assertEquals(ft.n, 10);
      assertEquals(long.max, 100);
      assertEquals(long.final, Math.sin((STEPS - 1) / 1000));
    },
  );

  await t.step(
    "GET /api/columns lists numeric metric columns across specimens",
    async () => {
      const { body } = await api(`/api/columns?ids=ft_a,long_run`);
      assertEquals(body.tables.metrics, [
        { name: "loss", specimens: 2 },
        { name: "accuracy", specimens: 1 },
        { name: "sparse", specimens: 1 },
        { name: "plateau", specimens: 1 },
      ]);
    },
  );

  await t.step(
    "GET /api/specimens/:id/tensors/:name reads the chosen slice lazily",
    async () => {
      const { status, body } = await api(
        `/api/specimens/${EXAMPLE_ID}/tensors/activations?sel=10:12,100:104`,
      );
      assertEquals(status, 200);
      assertEquals(body.shape, [2, 4]);
      assertEquals(body.sel, "10:12,100:104");
      const bytes = Uint8Array.from(atob(body.data), (c) => c.charCodeAt(0));
      const got = new Float32Array(bytes.buffer);
      const want = await readZarr(
        join(v.specimens, EXAMPLE_ID, "strata", "activations.zarr"),
        [[10, 12], [100, 104]],
      );
      assertEquals([...got], [...(want.data as Float32Array)]);
      const row = (await api(
        `/api/specimens/${EXAMPLE_ID}/tensors/activations?sel=5,0:512`,
      )).body;
      assertEquals(row.shape, [1, 512]);
      const dflt =
        (await api(`/api/specimens/${EXAMPLE_ID}/tensors/activations`))
          .body;
      assertEquals([dflt.sel, dflt.shape], ["0:100,0:512", [100, 512]]);
      for (
        const [q, status, pattern] of [
          ["sel=0:100", 400, /1 entries for 2 axes/],
          ["sel=0:5,x", 400, /"x" is not a whole number/],
          ["sel=200,0:5", 400, /index 200 is past its end/],
          ["sel=5,5", 200, null],
        ] as const
      ) {
        const r = await api(
          `/api/specimens/${EXAMPLE_ID}/tensors/activations?${q}`,
        );
        assertEquals(r.status, status, q);
        if (pattern) assertMatch(r.body.error, pattern);
      }
      const none = await api(`/api/specimens/${EXAMPLE_ID}/tensors/nope`);
      assertEquals(none.status, 404);
      assertMatch(none.body.error, /No tensor "nope"/);
    },
  );

  await t.step(
    "POST /api/sql runs read-only SQL, with exp_ views",
    async () => {
      const res = await postSql(
        base,
        `SELECT step, loss FROM exp_${EXAMPLE_ID} ORDER BY step LIMIT 3`,
      );
      assertEquals(res.status, 200);
      const body = await res.json();
      assertEquals(body.columns.map((c: { name: string }) => c.name), [
        "step",
        "loss",
      ]);
      assertEquals(body.rows.map((r: number[]) => r[0]), [0, 1, 2]);
      assertEquals(body.truncated, false);
      const dup =
        await (await postSql(base, "SELECT 1 AS a, 2 AS a, 'x' AS \"1\""))
          .json();
      assertEquals(dup.rows, [[1, 2, "x"]]);
    },
  );

  await t.step("POST /api/sql with format csv downloads CSV", async () => {
    const res = await postSql(
      base,
      "SELECT specimen_id, tags FROM catalog WHERE specimen_id IN ('sae_b', 'ft_b') ORDER BY 1",
      "csv",
    );
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type")!, /text\/csv/);
    assertMatch(res.headers.get("content-disposition")!, /attachment/);
    assertEquals(
      await res.text(),
      'specimen_id,tags\nft_b,[]\nsae_b,"[""gpt2"",""sweep""]"\n',
    );
    // Exact values, as deno task query --format json gives them.
    const exact = await postSql(
      base,
      "SELECT 9007199254740993::BIGINT AS b, TIMESTAMP '2024-01-01 12:00:00.123456' AS t, 1.25::DECIMAL(10,2) AS d",
      "csv",
    );
    assertEquals(
      await exact.text(),
      "b,t,d\n9007199254740993,2024-01-01T12:00:00.123456,1.25\n",
    );
  });

  await t.step(
    "POST /api/sql refuses writes, ATTACH, COPY TO, INSTALL and file reads",
    async (t) => {
      const outside = join(v.path, "..", `sv_dash_${crypto.randomUUID()}`);
      const cases: [string, RegExp][] = [
        ["CREATE TABLE t AS SELECT 1", /Refusing to run a CREATE statement/],
        [
          "INSERT INTO catalog (specimen_id) VALUES ('x')",
          /Refusing to run an INSERT statement/,
        ],
        ["DELETE FROM catalog", /Refusing to run a DELETE/],
        ["DROP TABLE catalog", /Refusing to run a DROP/],
        [
          `ATTACH '${outside}.duckdb' AS x`,
          /Refusing to run an ATTACH statement/,
        ],
        [`COPY catalog TO '${outside}.csv'`, /Refusing/],
        [`EXPORT DATABASE '${outside}'`, /Refusing|Permission/],
        ["INSTALL httpfs", /Refusing to run a LOAD|Refusing/],
        ["LOAD httpfs", /Refusing/],
        ["SET enable_external_access = true", /Refusing to run a SET/],
        [
          "SELECT 1; DROP TABLE catalog",
          /Refusing to run these 2 statements: one of them is not a SELECT/,
        ],
        [
          "SELECT * FROM read_csv('/etc/passwd')",
          /Refusing to run read_csv\(\)/,
        ],
        [
          "SELECT * FROM read_text('/etc/hostname')",
          /Refusing to run read_text\(\)/,
        ],
        [
          `SELECT * FROM read_parquet('${ROOT}/specimens/*/strata/*.parquet')`,
          /Refusing to run read_parquet\(\)/,
        ],
        [
          `EXPLAIN ANALYZE COPY (SELECT 1) TO '${outside}.csv'`,
          /Refusing|Permission/,
        ],
      ];
      for (const [sql, pattern] of cases) {
        await t.step(sql, async () => {
          const res = await postSql(base, sql);
          const body = await res.json();
          assertEquals(res.status, 403, `${sql}: ${body.error}`);
          assertEquals(body.kind, "refused");
          assertMatch(body.error, pattern);
          assertMatch(body.error, /read-only/);
        });
      }
      for (const ext of [".duckdb", ".csv", ""]) {
        let exists = true;
        try {
          await Deno.stat(outside + ext);
        } catch {
          exists = false;
        }
        assertEquals(exists, false, `${outside + ext} must not exist`);
      }
      const err = await postSql(base, "SELEC 1");
      assertEquals(err.status, 400);
      assertMatch((await err.json()).error, /syntax error/i);
    },
  );

  await t.step("POST /api/sql wants a JSON body from this origin", async () => {
    const plain = await fetch(new URL("/api/sql", base), {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ sql: "SELECT 1" }),
    });
    assertEquals(plain.status, 400);
    assertMatch((await plain.json()).error, /Content-Type: application\/json/);
    const cross = await fetch(new URL("/api/sql", base), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: "http://evil.example",
      },
      body: JSON.stringify({ sql: "SELECT 1" }),
    });
    assertEquals(cross.status, 403);
    await cross.body?.cancel();
    for (const origin of ["null", "not a url"]) {
      const opaque = await fetch(new URL("/api/sql", base), {
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ sql: "SELECT 1" }),
      });
      assertEquals(opaque.status, 403, origin);
      await opaque.body?.cancel();
    }
    const session = await postSql(base, "SELECT enable_logging()");
    assertEquals(session.status, 403);
    assertMatch(
      (await session.json()).error,
      /Refusing to run enable_logging\(\)/,
    );
    const put = await fetch(new URL("/api/catalog", base), { method: "PUT" });
    assertEquals(put.status, 405);
    await put.body?.cancel();
  });

  await t.step(
    "no route serves a file by path (traversal attempts)",
    async () => {
      const port = server.port;
      for (
        const path of [
          "/assets/../deno.json",
          "/assets/..%2f..%2fdeno.json",
          "/assets/%2e%2e/%2e%2e/deno.json",
          "/assets/..%5c..%5cdeno.json",
          "/..%2f..%2f..%2fetc%2fpasswd",
          "//etc/passwd",
          "/assets//etc/passwd",
          "/assets/app.js%00.png",
          "/lib/dashboard/server.ts",
          "/deno.json",
          "/specimens/" + EXAMPLE_ID + "/manifest.msgpack",
          "/api/specimens/..%2f..%2fetc%2fpasswd",
          "/api/specimens/%2e%2e",
          `/api/specimens/${EXAMPLE_ID}/tensors/..%2f..%2fmanifest`,
          `/api/specimens/${EXAMPLE_ID}/tensors/..%2f..%2f..%2f..%2fetc%2fpasswd`,
          "/api/specimens/%ff",
        ]
      ) {
        const { status, text } = await rawRequest(port, path);
        assert([400, 404].includes(status), `${path}: status ${status}`);
        assert(!text.includes("root:x:0:0"), path);
        assert(!text.includes('"imports"'), path);
        assert(!text.includes("specimen_id\xa0"), path);
      }
    },
  );

  await t.step(
    "a request for another Host is refused (DNS rebinding)",
    async () => {
      const evil = await rawRequest(server.port, "/api/info", "evil.example");
      assertEquals(evil.status, 403);
      const local = await rawRequest(
        server.port,
        "/api/info",
        `localhost:${server.port}`,
      );
      assertEquals(local.status, 200);
    },
  );
});

Deno.test("dashboard SQL stops a runaway query at the time limit and keeps serving", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "only" });
  await using server = await serveVault(v.path, {
    queryTimeoutMs: 400,
    sqlMaxRows: 50,
  });
  const slow = postSql(
    server.url,
    "SELECT count(*) FROM range(1000000000000) a, range(1000) b",
  );
  // While it runs, the server answers.
  const info = await getJson(new URL("/api/info", server.url).href);
  assertEquals(info.status, 200);
  const res = await slow;
  const body = await res.json();
  assertEquals(res.status, 503);
  assertEquals(body.kind, "timeout");
  // The query would run for hours: an answer at all is the limit's doing.
  assertMatch(body.error, /Query stopped after 400 ms.*deno task query/);

  const rows =
    await (await postSql(server.url, "SELECT * FROM range(1000000000000)"))
      .json();
  assertEquals(rows.rows.length, 50);
  assertEquals(rows.truncated, true);
  assertEquals(rows.row_limit, 50);
  const after = await (await postSql(server.url, "SELECT 42 AS answer")).json();
  assertEquals(after.rows, [[42]]);
});

Deno.test("dashboard re-reads the catalog after deno task index, no restart", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "first", created: "2024-01-01T00:00:00Z" });
  await using server = await serveDashboard({ vault: v.path, port: 0 });
  const catalog = new URL("/api/catalog", server.url).href;

  const before = await getJson(catalog);
  assertEquals(before.status, 503);
  assertEquals(before.body.kind, "no_catalog");
  assertMatch(before.body.error, /run `deno task index`/);

  await indexVault({ vault: v.path });
  const one = await getJson(catalog);
  assertEquals(one.body.total, 1);

  await writeSpecimen(v.path, {
    id: "second",
    created: "2024-01-02T00:00:00Z",
  });
  await indexVault({ vault: v.path });
  const two = await getJson(catalog);
  assertEquals(two.body.total, 2);
  assertEquals(two.body.rows[0].specimen_id, "second");
  assertEquals(
    (await getJson(new URL("/api/info", server.url).href)).body.catalog
      .specimens,
    2,
  );
});

Deno.test("dashboard field notes cannot inject script", async () => {
  await using v = await tempVault();
  const dir = await writeSpecimen(v.path, { id: "evil" });
  await Deno.writeTextFile(
    join(dir, "field_notes.md"),
    [
      "# Notes",
      "<script>alert(1)</script>",
      "<img src=x onerror=alert(2)>",
      "[click](javascript:alert(3)) [ok](https://example.org)",
      "![i](javascript:alert(4))",
      '<a href="javascript:alert(5)">x</a>',
      "<iframe src=//evil></iframe>",
    ].join("\n\n"),
  );
  await using server = await serveVault(v.path);
  const { body } = await getJson(
    new URL("/api/specimens/evil", server.url).href,
  );
  const html: string = body.notes_html;
  assertMatch(html, /<h1>Notes<\/h1>/);
  assertMatch(html, /<a href="https:\/\/example.org">ok<\/a>/);
  for (
    const bad of [
      /<script/i,
      /<img[^>]*onerror/i,
      /(href|src)="?javascript:/i,
      /<iframe/i,
    ]
  ) {
    assert(!bad.test(html), `${bad} in ${html}`);
  }
  assertMatch(html, /&lt;script&gt;/);
});

Deno.test("isLoopbackHost() tells loopback addresses from the rest", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assert(isLoopbackHost(h), h);
  }
  for (const h of ["0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "example.org"]) {
    assert(!isLoopbackHost(h), h);
  }
});

Deno.test("createDashboard() refuses a missing vault and bad limits, naming the fix", async () => {
  let err: Error | undefined;
  try {
    await createDashboard({ vault: "/nonexistent/vault" });
  } catch (e) {
    err = e as Error;
  }
  assertMatch(
    String(err),
    /Vault folder "\/nonexistent\/vault" does not exist: pass an existing folder with --vault/,
  );
  await using v = await tempVault();
  err = undefined;
  try {
    await createDashboard({ vault: v.path, queryTimeoutMs: 0 });
  } catch (e) {
    err = e as Error;
  }
  assertMatch(String(err), /Invalid queryTimeoutMs 0/);
});

const SERVE_FLAGS = [
  "--allow-read",
  "--allow-net=127.0.0.1,localhost,[::1]",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
];

Deno.test("deno task serve --help prints usage", async () => {
  const r = await runDeno(["run", ...SERVE_FLAGS, "tasks/serve.ts", "--help"]);
  assertEquals(r.code, 0);
  assertMatch(
    r.stdout,
    /Usage:\n {2}deno task serve \[--port 8765\] \[--host 127.0.0.1\]/,
  );
  const bad = await runDeno([
    "run",
    ...SERVE_FLAGS,
    "tasks/serve.ts",
    "--port",
    "http",
  ]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /error: Invalid --port "http"/);
});

Deno.test("serve task with its narrow permissions prints the URL and serves the vault", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "served" });
  await indexVault({ vault: v.path });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVE_FLAGS,
      "tasks/serve.ts",
      "--vault",
      v.path,
      "--port",
      "0",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let url: string | undefined;
  const deadline = Date.now() + 120_000;
  while (!url && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
    url = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
  }
  try {
    assert(url, `no URL printed: ${out}`);
    const info = await getJson(new URL("/api/info", url).href);
    assertEquals(info.body.catalog.specimens, 1);
    const page = await fetch(url);
    assertEquals(page.status, 200);
    await page.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const status = await child.status;
    await child.stderr.cancel().catch(() => {});
    assertEquals(status.code, 0);
  }
});

Deno.test("serve task warns about a non-loopback host and refuses it without the permission", async () => {
  await using v = await tempVault();
  const r = await runDeno([
    "run",
    ...SERVE_FLAGS,
    "tasks/serve.ts",
    "--vault",
    v.path,
    "--host",
    "0.0.0.0",
    "--port",
    "0",
  ]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /warning: listening on 0\.0\.0\.0, not a loopback address/,
  );
  assertMatch(
    r.stderr,
    /error: Not allowed to listen on 0\.0\.0\.0:0 .*--allow-net=0\.0\.0\.0/,
  );
});

/** Sends raw HTTP on a new connection and returns what came back within `ms`. */
async function rawHttp(
  port: number,
  head: string,
  body: Uint8Array,
  ms = 10_000,
) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head));
    await conn.write(body).catch(() => 0);
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    const until = Date.now() + ms;
    while (Date.now() < until && !/\r\n\r\n[\s\S]*\}/.test(text)) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("dashboard refuses a request body over 1 MiB with 413, without buffering it", async (t) => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "one" });
  await using server = await serveVault(v.path);
  const url = new URL("/api/sql", server.url);
  const headers = { "content-type": "application/json" };

  await t.step("a chunked 300 MB body is cut off early", async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(32);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 300 * 1024 * 1024) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    const rss = Deno.memoryUsage().rss;
    let status = 0;
    let said = "";
    try {
      const res = await fetch(url, { method: "POST", headers, body });
      status = res.status;
      said = (await res.json()).error;
    } catch {
      // The server may close the upload once it answered: fine.
      status = 413;
    }
    assertEquals(status, 413);
    if (said) assertMatch(said, /larger than 1048576 bytes \(1 MiB\)/);
    assert(sent < 100 * 1024 * 1024, `the client sent ${sent} bytes`);
    const grew = Deno.memoryUsage().rss - rss;
    assert(grew < 200 * 1024 * 1024, `RSS grew by ${grew} bytes`);
  });

  await t.step(
    "a 300 MB Content-Length is refused before the body is read",
    async () => {
      const text = await rawHttp(
        server.port,
        `POST /api/sql HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${
          300 * 1024 * 1024
        }\r\n\r\n`,
        new TextEncoder().encode('{"sql": "SELECT 1"'),
      );
      assertMatch(text, /^HTTP\/1\.1 413/);
      assertMatch(text, /"kind":"too_large"/);
    },
  );

  await t.step("1 MiB exactly is read; one byte more is refused", async () => {
    const query = (n: number) => {
      // Padding in a field the API ignores: the SQL gate has its own
      // (smaller) limit on the length of the SQL itself.
      const prefix = '{"sql": "SELECT 42 AS answer", "pad": "';
      return prefix + "x".repeat(n - prefix.length - 2) + '"}';
    };
    const ok = await fetch(url, {
      method: "POST",
      headers,
      body: query(1024 * 1024),
    });
    assertEquals(ok.status, 200, await ok.clone().text());
    assertEquals((await ok.json()).rows, [[42]]);
    const over = await fetch(url, {
      method: "POST",
      headers,
      body: query(1024 * 1024 + 1),
    });
    assertEquals(over.status, 413);
    await over.body?.cancel();
  });
});

Deno.test("dashboard answers HEAD on every GET route like GET, without a body", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "one" });
  await using server = await serveVault(v.path);
  for (
    const path of [
      "/",
      "/index.html",
      "/api/info",
      "/api/catalog",
      "/api/specimens/one",
      "/api/specimens/nope",
      "/no/such/page",
    ]
  ) {
    const url = new URL(path, server.url);
    const get = await fetch(url);
    await get.body?.cancel();
    const head = await fetch(url, { method: "HEAD" });
    assertEquals(head.status, get.status, path);
    assertEquals(
      head.headers.get("content-type"),
      get.headers.get("content-type"),
      path,
    );
    assertEquals(
      head.headers.get("content-security-policy"),
      get.headers.get("content-security-policy"),
    );
    assertEquals(await head.text(), "", path);
  }
  // Raw: no body bytes follow the headers.
  const text = await rawHttp(
    server.port,
    `HEAD / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`,
    new Uint8Array(),
    3000,
  );
  assertMatch(text, /^HTTP\/1\.1 200/);
  assertEquals(text.split("\r\n\r\n")[1], "");
  const del = await fetch(new URL("/api/catalog", server.url), {
    method: "DELETE",
  });
  assertEquals(del.status, 405);
  assertEquals(del.headers.get("allow"), "GET, HEAD, POST");
  await del.body?.cancel();
});

Deno.test("dashboard loads no remote image: the CSP allows 'self' and data: only, and remote images in field notes become links", async (t) => {
  await using v = await tempVault();
  const dir = await writeSpecimen(v.path, { id: "imgs" });
  const png = "data:image/png;base64,iVBORw0KGgo=";
  await Deno.writeTextFile(
    join(dir, "field_notes.md"),
    [
      "![remote](https://tracker.example/pixel.png)",
      "![plain](http://tracker.example/p.gif)",
      "![proto](//tracker.example/p.gif)",
      // Two backslashes: browsers read them as "//".
      "![slashes](\\\\\\\\tracker.example/p.gif)",
      "![ref][r]",
      `![inline](${png})`,
      "![local](plots/loss.png)",
      "[r]: https://tracker.example/ref.png",
    ].join("\n\n"),
  );
  await using server = await serveVault(v.path);
  const res = await fetch(new URL("/", server.url));
  await res.body?.cancel();
  const csp = res.headers.get("content-security-policy")!;
  assertMatch(csp, /img-src 'self' data:;/);
  assert(!/https:/.test(csp), csp);
  const { body } = await getJson(
    new URL("/api/specimens/imgs", server.url).href,
  );
  const html: string = body.notes_html;
  const srcs = [...html.matchAll(/<img[^>]*src="([^"]*)"/g)].map((m) => m[1]);
  assertEquals(srcs, [png, "plots/loss.png"]);
  for (
    const [name, href] of [
      ["remote", "https://tracker.example/pixel.png"],
      ["plain", "http://tracker.example/p.gif"],
      ["proto", "//tracker.example/p.gif"],
      ["ref", "https://tracker.example/ref.png"],
    ]
  ) {
    await t.step(name, () => {
      assert(
        html.includes(
          `<a href="${href}" rel="noopener noreferrer">image: ${name}</a>`,
        ),
        html,
      );
    });
  }
  assert(
    !/tracker\.example[^"]*"[^>]*>\s*<\/img|<img[^>]*tracker/.test(html),
    html,
  );
});

Deno.test("dashboard with a manifest of 200,000 tags ships and renders at most 50 of them, and says how many more", async () => {
  await using v = await tempVault();
  const many = Array.from({ length: 200_000 }, (_, i) => `t${i}`);
  await writeSpecimen(v.path, { id: "tagged", tags: many });
  await writeSpecimen(v.path, { id: "few", tags: ["a", "b"] });
  await using server = await serveVault(v.path);
  const page = await fetch(new URL("/api/catalog", server.url));
  const pageText = await page.text();
  assert(pageText.length < 50_000, `catalog page is ${pageText.length} bytes`);
  const rows = JSON.parse(pageText).rows as Record<string, unknown>[];
  const tagged = rows.find((r) => r.specimen_id === "tagged")!;
  assertEquals(tagged.tags, many.slice(0, 50));
  assertEquals(tagged.tag_count, 200_000);
  const few = rows.find((r) => r.specimen_id === "few")!;
  assertEquals([few.tags, few.tag_count], [["a", "b"], 2]);
  const one = await fetch(new URL("/api/specimens/tagged", server.url));
  const oneText = await one.text();
  assert(oneText.length < 50_000, `specimen is ${oneText.length} bytes`);
  const s = JSON.parse(oneText).specimen;
  assertEquals([s.tags.length, s.tag_count], [50, 200_000]);
  assertEquals(s.manifest.tags.length, 50);
  assertEquals(s.manifest.specimen_id, "tagged");
  // The page draws the first 50 and "and N more".
  const app = await (await fetch(new URL("/assets/dom.js", server.url))).text();
  assertMatch(app, /const MAX_TAGS = 50;/);
  assertMatch(app, /and \$\{total - tags\.length\} more/);
});
