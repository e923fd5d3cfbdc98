/**
 * The dashboard's params API over HTTP with a real server: the params table
 * of chosen specimens, the scatter of a metric against a numeric param, and
 * the rows of a parallel-coordinates view.
 */
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import { paramSpecimen } from "./testdata/params_fixtures.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import { assert, assertEquals, assertMatch, tempVault } from "./utils.ts";

async function paramsVault() {
  const v = await tempVault();
  // final loss = scale / steps; min = final; max = scale.
  await paramSpecimen(
    v.path,
    "a",
    {
      lr: 3e-4,
      batch: 32,
      optimizer: { name: "adam" },
    },
    1,
    10,
  );
  await paramSpecimen(
    v.path,
    "b",
    {
      lr: 1e-3,
      batch: 64,
      optimizer: { name: "sgd" },
    },
    2,
    10,
  );
  await paramSpecimen(
    v.path,
    "c",
    {
      lr: "warmup",
      batch: 64,
      optimizer: { name: "adam" },
    },
    1,
    4,
  );
  // lr but no metrics; and a specimen without params (as the Python vault's).
  await paramSpecimen(v.path, "d", { lr: 0.1 }, 1, 0);
  await writeSpecimen(v.path, { id: "plain" });
  return v;
}

async function get(base: string, path: string) {
  const res = await fetch(new URL(path, base));
  return { status: res.status, body: await res.json() };
}

const near = (a: unknown, b: number) =>
  assert(typeof a === "number" && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("GET /api/params?ids= gives the params of the chosen specimens side by side, each key flagged when it differs", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const { status, body } = await get(
    server.url,
    "/api/params?ids=a,c,plain,nope",
  );
  assertEquals(status, 200);
  assertEquals(body.ids, ["a", "c", "plain"]);
  assertEquals(body.missing, ["nope"]);
  assertEquals(
    body.rows.map((r: { key: string; differs: boolean }) =>
      `${r.key}:${r.differs}`
    ),
    ["batch:true", "lr:true", "optimizer.name:true"],
  );
  assertEquals(body.rows[1].values, [3e-4, "warmup", null]);
  assertEquals(body.rows[1].absent, [false, false, true]);
  const two = await get(server.url, "/api/params?ids=b,c");
  assertEquals(
    two.body.rows.filter((r: { differs: boolean }) => !r.differs).map((
      r: { key: string },
    ) => r.key),
    ["batch"],
  );
  for (const bad of ["/api/params", "/api/params?ids=../x"]) {
    const r = await get(server.url, bad);
    assertEquals(r.status, 400, bad);
    assert(typeof r.body.error === "string");
  }
});

Deno.test("GET /api/params/scatter gives one point per specimen with a numeric param and the metric, for final, min and max", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const { status, body } = await get(
    server.url,
    "/api/params/scatter?param=lr&metric=loss&stat=final",
  );
  assertEquals(status, 200);
  // c's lr is a string, d has no metrics, plain no params.
  assertEquals(body.points.map((p: { id: string }) => p.id), ["a", "b"]);
  assertEquals(body.points.map((p: { x: number }) => p.x), [3e-4, 1e-3]);
  near(body.points[0].y, 0.1);
  near(body.points[1].y, 0.2);
  assertEquals(body.non_numeric, 1);
  const max = await get(
    server.url,
    "/api/params/scatter?param=batch&metric=loss&stat=max&table=metrics",
  );
  assertEquals(
    max.body.points.map((p: { id: string; x: number; y: number }) =>
      `${p.id}:${p.x}:${p.y}`
    ),
    ["a:32:1", "b:64:2", "c:64:1"],
  );
  const min = await get(
    server.url,
    "/api/params/scatter?param=batch&metric=accuracy&stat=min",
  );
  assertEquals(min.body.points.map((p: { y: number }) => p.y), [0, 0, 0]);
  for (
    const [path, status, pattern] of [
      ["/api/params/scatter?metric=loss", 400, /param=KEY/],
      ["/api/params/scatter?param=lr&metric=nope", 400, /"nope"/],
      ["/api/params/scatter?param=lr&stat=median", 400, /final, min or max/],
      ["/api/params/scatter?param=a%20b", 400, /"a b"/],
      ["/api/params/scatter?param=lr&table=eval", 404, /"eval"/],
    ] as const
  ) {
    const r = await get(server.url, path);
    assertEquals(r.status, status, path);
    assertMatch(r.body.error, pattern);
  }
});

Deno.test("GET /api/params/parallel gives one row per specimen with a value per key and the metric, newest first, up to limit", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const { status, body } = await get(
    server.url,
    "/api/params/parallel?keys=lr,batch,optimizer.name&metric=loss",
  );
  assertEquals(status, 200);
  assertEquals(body.total, 4);
  assertEquals(body.axes, [
    { key: "lr", kind: "category" },
    { key: "batch", kind: "number" },
    { key: "optimizer.name", kind: "category" },
  ]);
  const byId = new Map(
    body.rows.map((r: { id: string }) => [r.id, r]),
  ) as Map<string, { values: unknown[]; y: number | null }>;
  assertEquals([...byId.keys()].sort(), ["a", "b", "c", "d"]);
  assertEquals(byId.get("a")!.values, [3e-4, 32, "adam"]);
  assertEquals(byId.get("c")!.values, ["warmup", 64, "adam"]);
  assertEquals(byId.get("d")!.values, [0.1, null, null]);
  near(byId.get("b")!.y, 0.2);
  assertEquals(byId.get("d")!.y, null);
  const limited = await get(
    server.url,
    "/api/params/parallel?keys=batch&limit=2",
  );
  assertEquals(limited.body.total, 3);
  assertEquals(limited.body.rows.length, 2);
  assert(!("y" in limited.body.rows[0]));
  for (
    const path of [
      "/api/params/parallel",
      "/api/params/parallel?keys=lr&limit=1001",
      "/api/params/parallel?keys=lr,lr",
      "/api/params/parallel?keys=lr&metric=nope",
    ]
  ) {
    const r = await get(server.url, path);
    assertEquals(r.status, 400, path);
  }
});

Deno.test("GET /api/params/keys lists every param key with how many specimens have it, how many as a number, and how many distinct values", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const { status, body } = await get(server.url, "/api/params/keys");
  assertEquals(status, 200);
  assertEquals(body.keys, [
    { key: "batch", specimens: 3, numeric: 3, distinct: 2 },
    { key: "lr", specimens: 4, numeric: 3, distinct: 4 },
    { key: "optimizer.name", specimens: 3, numeric: 0, distinct: 2 },
  ]);
});

Deno.test("GET /api/catalog?params= adds param columns that sort (param:KEY) and filter (param.KEY=VALUE, numbers numerically)", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  type Page = {
    rows: { specimen_id: string; params?: Record<string, unknown> }[];
    matched: number;
  };
  const page = async (query: string) => {
    const r = await get(server.url, `/api/catalog?${query}`);
    assertEquals(r.status, 200, JSON.stringify(r.body));
    return r.body as Page;
  };
  const cols = await page(
    "params=lr,optimizer.name&sort=specimen_id&order=asc",
  );
  assertEquals(cols.rows.map((r) => r.specimen_id), [
    "a",
    "b",
    "c",
    "d",
    "plain",
  ]);
  assertEquals(cols.rows[0].params, { lr: 3e-4, "optimizer.name": "adam" });
  assertEquals(cols.rows[2].params, { lr: "warmup", "optimizer.name": "adam" });
  assertEquals(cols.rows[4].params, { lr: null, "optimizer.name": null });
  const byLr = await page("params=lr&sort=param:lr&order=asc");
  // Numbers in order, then the text, then the specimens without.
  assertEquals(byLr.rows.map((r) => r.specimen_id), [
    "a",
    "b",
    "d",
    "c",
    "plain",
  ]);
  const desc = await page("sort=param:lr&order=desc");
  assertEquals(desc.rows.map((r) => r.specimen_id).slice(0, 3), [
    "d",
    "b",
    "a",
  ]);
  assert(!("params" in desc.rows[0]));
  assertEquals((await page("param.lr=3e-4")).rows.map((r) => r.specimen_id), [
    "a",
  ]);
  assertEquals(
    (await page("param.optimizer.name=adam&sort=specimen_id&order=asc")).rows
      .map((r) => r.specimen_id),
    ["a", "c"],
  );
  const both = await page("param.optimizer.name=adam&param.batch=64");
  assertEquals(both.matched, 1);
  assertEquals(both.rows.map((r) => r.specimen_id), ["c"]);
  for (const bad of ["params=a%20b", "sort=param:", "param.x..y=1"]) {
    const r = await get(server.url, `/api/catalog?${bad}`);
    assertEquals(r.status, 400, bad);
  }
});

Deno.test("GET /api/catalog?param_min.KEY=&param_max.KEY= keeps the specimens whose numeric leaf is in the range, bounds included", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const ids = async (query: string) => {
    const r = await get(
      server.url,
      `/api/catalog?${query}&sort=specimen_id&order=asc`,
    );
    assertEquals(r.status, 200, JSON.stringify(r.body));
    return r.body.rows.map((x: { specimen_id: string }) => x.specimen_id);
  };
  // lr: a 3e-4, b 1e-3, c "warmup" (text: out of every range), d 0.1.
  assertEquals(await ids("param_min.lr=3e-4&param_max.lr=1e-3"), ["a", "b"]);
  assertEquals(await ids("param_min.lr=0.001"), ["b", "d"]);
  assertEquals(await ids("param_max.lr=5e-4"), ["a"]);
  assertEquals(await ids("param_min.batch=40&params=batch"), ["b", "c"]);
  // With an equality filter on another key, and a nested key's column shown.
  assertEquals(
    await ids("param_min.batch=1&param.optimizer.name=adam"),
    ["a", "c"],
  );
  for (
    const [bad, pattern] of [
      ["param_min.lr=abc", /param_min\.lr="abc".*a number/],
      ["param_max.lr=", /param_max\.lr="".*a number/],
      ["param_min.a%20b=1", /"a b"/],
    ] as const
  ) {
    const r = await get(server.url, `/api/catalog?${bad}`);
    assertEquals(r.status, 400, bad);
    assertMatch(r.body.error, pattern);
  }
});

Deno.test("GET /api/params/metrics lists every metric table's numeric columns across the vault, step left out", async () => {
  await using v = await paramsVault();
  await using server = await serveVault(v.path);
  const { status, body } = await get(server.url, "/api/params/metrics");
  assertEquals(status, 200);
  assertEquals(Object.keys(body.tables), ["metrics"]);
  const byName = new Map(
    body.tables.metrics.map((
      c: { name: string; specimens: number },
    ) => [c.name, c.specimens]),
  );
  assert(!byName.has("step"), JSON.stringify(body));
  // a, b, c have metrics; d's has no rows but a file; plain has its own.
  assert((byName.get("loss") as number) >= 3, JSON.stringify(body));
  assert(byName.has("accuracy"), JSON.stringify(body));
});
