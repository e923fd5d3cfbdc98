/**
 * The dashboard in a real browser: Debian's Chromium driven by
 * playwright-core. Set UPDATE_SCREENSHOTS=1 to write the README's screenshot
 * (docs/screenshots/dashboard.png); otherwise it goes to a temp folder and
 * only its size is checked.
 *
 * @module
 */
// A full specifier until deno.json's imports name playwright-core.
import { chromium, type Page } from "playwright-core";
import { join } from "../lib/_deps.ts";
import type { Params } from "../lib/specimen/params.ts";
import {
  addExampleSpecimen,
  EXAMPLE_ID,
  serveVault,
} from "./testdata/dashboard_fixtures.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import { paramSpecimen } from "./testdata/params_fixtures.ts";
import { assert, assertEquals, assertMatch, ROOT, tempVault } from "./utils.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const SECOND_ID = "example_variant_lr_3e_4";

/**
 * Polls `locator`'s text until `ok` holds (the page's CSP forbids the
 * string evaluation that page.waitForFunction would need).
 */
async function waitForText(
  locator: { innerText(): Promise<string> },
  ok: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < deadline) {
    text = await locator.innerText().catch(() => "");
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for the text; last seen: ${text}`);
}

async function launch() {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM to its path`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

Deno.test("dashboard in Chromium: catalog, specimen charts, compare, SQL, screenshot", async () => {
  await using v = await tempVault();
  await addExampleSpecimen(v.path);
  // Variants of the demo at lower learning rates: slower, higher curves.
  const variants = [
    SECOND_ID,
    "example_variant_lr_1e_4",
    "example_variant_lr_3e_5",
  ];
  for (const [i, id] of variants.entries()) {
    await writeSpecimen(v.path, {
      id,
      domain: "interpretability",
      method: "sae_analysis",
      tags: ["synthetic", "lr_sweep"],
      created: `2024-12-2${i}T00:00:00Z`,
      description: "the demo's curves at a lower learning rate",
      metrics: `SELECT range::BIGINT AS step,
        ${0.45 + 0.15 * i} + 1.9 * exp(-range / ${26 + 12 * i}.0)
          + 0.02 * sin(range * ${i + 2}) AS loss,
        least(1.0, 0.1 + ${0.78 - 0.08 * i} * (1 - exp(-range / ${
        30 + 12 * i
      }.0))) AS accuracy
        FROM range(100)`,
    });
  }
  await using server = await serveVault(v.path);
  const browser = await launch();
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 800 },
    });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });

    // Catalog: the example specimen is listed.
    await page.goto(server.url);
    const row = page.locator(`tr[data-id="${EXAMPLE_ID}"]`);
    await row.waitFor();
    assertMatch(await row.innerText(), /interpretability\s+sae_analysis/);
    assertMatch(
      await page.getByTestId("counts").innerText(),
      /1–4 of 4 matching · 4 specimens in the vault/,
    );

    // Specimen page: a chart per metric, drawn; notes; a heatmap.
    await row.getByRole("link", { name: EXAMPLE_ID }).click();
    await page.waitForSelector('.chart[data-chart="loss"] canvas');
    assertEquals(
      await page.getByTestId("specimen-id").innerText(),
      EXAMPLE_ID,
    );
    assertEquals(await page.locator(".uplot").count(), 3);
    // In-page code as strings: this file is type-checked without the DOM lib.
    const inked = await page.evaluate(`(() => {
      const c = document.querySelector('.chart[data-chart="loss"] canvas');
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0; // pixels of the series stroke, blue #1f77b4
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && d[i + 2] > 150 && d[i] < 100) n++;
      }
      return n;
    })()`) as number;
    assert(inked > 200, `the loss curve drew ${inked} blue pixels`);
    await page.getByTestId("notes").getByRole("heading", {
      name: "Hypothesis",
    }).waitFor();
    await page.locator('canvas[data-testid="heatmap"][width="512"]').waitFor();

    // Zoom: dragging across the chart refetches that range in full.
    const zoomed = page.waitForResponse((r) =>
      r.url().includes("/api/curves") && r.url().includes("x0=")
    );
    const over = page.locator('.chart[data-chart="loss"] .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, {
      steps: 5,
    });
    await page.mouse.up();
    assertEquals((await zoomed).status(), 200);
    // Zoomed to about 30 steps, drawn whole; double-click zooms back out.
    const points = page.locator('.chart[data-chart="loss"] .chart-title span');
    await waitForText(
      points,
      (t) => /^\d+ points$/.test(t) && parseInt(t) < 50,
    );
    await over.dblclick();
    await waitForText(points, (t) => t === "100 points");

    // Compare two specimens picked in the catalog.
    await page.goto(server.url);
    await page.getByLabel(`pick ${EXAMPLE_ID}`).check();
    await page.getByLabel(`pick ${SECOND_ID}`).check();
    await page.getByTestId("compare-picked").click();
    await page.waitForSelector(".chart .uplot canvas");
    const summary = page.getByTestId("summary").locator("tbody tr");
    await summary.nth(1).waitFor();
    assertEquals(await summary.count(), 2);
    const legend = await page.locator(".u-legend").innerText();
    assert(legend.includes(EXAMPLE_ID) && legend.includes(SECOND_ID), legend);
    assertMatch(
      await summary.filter({ hasText: SECOND_ID }).innerText(),
      /99/,
    );

    // The README's screenshot: the demo and its variants compared.
    await page.goto(
      `${server.url}#/compare?ids=${[EXAMPLE_ID, ...variants].join(",")}`,
    );
    await page.getByTestId("summary").locator("tbody tr").nth(3).waitFor();
    await page.waitForSelector(".chart .uplot canvas");
    const shotPath = Deno.env.get("UPDATE_SCREENSHOTS") === "1"
      ? join(ROOT, "docs", "screenshots", "dashboard.png")
      : join(v.path, "dashboard.png");
    await page.screenshot({ path: shotPath });
    const size = (await Deno.stat(shotPath)).size;
    assert(size > 10_000 && size < 300_000, `screenshot is ${size} bytes`);

    // SQL console: run a query and read its result.
    await page.locator('a[data-nav="sql"]').click();
    await page.getByTestId("sql").fill(
      "SELECT count(*) AS n, max(step) AS last FROM metrics",
    );
    await page.getByTestId("run-sql").click();
    const cells = page.getByTestId("sql-result").locator("tbody td");
    await cells.first().waitFor();
    assertEquals(await cells.allInnerTexts(), ["400", "99"]);
    assertEquals(problems, [], "no script error or failed request so far");
    await page.getByTestId("sql").fill("DROP TABLE catalog");
    await page.getByTestId("run-sql").click();
    await page.getByRole("alert").waitFor();
    assertMatch(
      await page.getByRole("alert").innerText(),
      /Refusing to run a DROP statement\b.*the dashboard's SQL is read-only/,
    );
  } finally {
    await browser.close();
  }
});

/** An SVG element's text for waitForText (SVG has no innerText). */
function svgText(locator: { textContent(): Promise<string | null> }) {
  return { innerText: async () => await locator.textContent() ?? "" };
}

/** ids in the catalog table's order. */
async function catalogIds(page: Page): Promise<string[]> {
  return await page.locator('[data-testid="catalog"] tbody tr').evaluateAll(
    (trs) =>
      trs.map((tr) =>
        (tr as unknown as { dataset: { id: string } }).dataset.id
      ),
  );
}

// lr 0.1 … 0.001 and a specimen without lr; final loss = scale / 10.
const SWEEP: [string, Record<string, unknown>, number][] = [
  [
    "p_lr_0_1",
    { lr: 0.1, seed: 1, arch: "mlp", optimizer: { name: "adam" } },
    5,
  ],
  [
    "p_lr_0_03",
    { lr: 0.03, seed: 1, arch: "mlp", optimizer: { name: "adam" } },
    4,
  ],
  [
    "p_lr_0_01",
    { lr: 0.01, seed: 2, arch: "cnn", optimizer: { name: "sgd" } },
    3,
  ],
  ["p_lr_0_003", {
    lr: 0.003,
    seed: 1,
    arch: "cnn",
    optimizer: { name: "sgd" },
  }, 2],
  ["p_lr_0_001", {
    lr: 0.001,
    seed: 1,
    arch: "mlp",
    optimizer: { name: "adam" },
  }, 1],
  ["p_no_lr", { seed: 3, arch: "cnn", optimizer: { name: "adam" } }, 6],
];

Deno.test("dashboard in Chromium: param columns sort and filter, compare diffs params, scatter and parallel coordinates draw one mark per specimen", async () => {
  await using v = await tempVault();
  for (const [id, params, scale] of SWEEP) {
    await paramSpecimen(v.path, id, params as Params, scale, 10);
  }
  await writeSpecimen(v.path, { id: "plain_no_params" });
  await using server = await serveVault(v.path);
  const browser = await launch();
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 },
    });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });

    // Catalog: add lr then optimizer.name as columns from the picker.
    await page.goto(`${server.url}#/?sort=specimen_id&order=asc`);
    await page.locator('tr[data-id="p_lr_0_1"]').waitFor();
    await page.getByTestId("param-picker").selectOption("lr");
    const lrCell = page.locator('tr[data-id="p_lr_0_003"] td[data-param="lr"]');
    await waitForText(lrCell, (t) => t === "0.003");
    assertEquals(
      await page.locator('tr[data-id="p_no_lr"] td[data-param="lr"]')
        .innerText(),
      "",
    );
    await page.getByTestId("param-picker").selectOption("optimizer.name");
    await waitForText(
      page.locator('tr[data-id="p_lr_0_01"] td[data-param="optimizer.name"]'),
      (t) => t === "sgd",
    );
    assertMatch(
      page.url(),
      /params=lr%2Coptimizer\.name|params=lr,optimizer\.name/,
    );
    // Sort by lr: ascending, then descending; the one without lr last.
    await page.locator('th[data-param="lr"] span').click();
    await waitForText(
      page.locator('th[data-param="lr"]'),
      (t) => t.includes("▼"),
    );
    assertEquals((await catalogIds(page)).slice(0, 6), [
      "p_lr_0_1",
      "p_lr_0_03",
      "p_lr_0_01",
      "p_lr_0_003",
      "p_lr_0_001",
      "p_no_lr",
    ]);
    await page.locator('th[data-param="lr"] span').click();
    await waitForText(
      page.locator('th[data-param="lr"]'),
      (t) => t.includes("▲"),
    );
    assertEquals((await catalogIds(page)).slice(0, 5), [
      "p_lr_0_001",
      "p_lr_0_003",
      "p_lr_0_01",
      "p_lr_0_03",
      "p_lr_0_1",
    ]);
    // A reload keeps the columns and the sort (they live in the URL).
    await page.reload();
    await waitForText(lrCell, (t) => t === "0.003");
    assertEquals((await catalogIds(page))[0], "p_lr_0_001");
    // Filter: a range of lr, then a value of a nested key.
    await page.locator('[data-param-filter="lr"]').fill("0.003..0.03");
    await page.locator('[data-param-filter="lr"]').press("Enter");
    await waitForText(
      page.getByTestId("counts"),
      (t) => t.startsWith("1–3 of 3 matching"),
    );
    assertEquals(await catalogIds(page), [
      "p_lr_0_003",
      "p_lr_0_01",
      "p_lr_0_03",
    ]);
    await page.locator('[data-param-filter="optimizer.name"]').fill("sgd");
    await page.locator('[data-param-filter="optimizer.name"]').press("Enter");
    await waitForText(
      page.getByTestId("counts"),
      (t) => t.startsWith("1–2 of 2 matching"),
    );
    assertEquals(await catalogIds(page), ["p_lr_0_003", "p_lr_0_01"]);

    // Compare three: lr, seed and arch differ; optimizer.name does not.
    await page.goto(`${server.url}#/compare?ids=p_lr_0_1,p_lr_0_01,p_no_lr`);
    const table = page.getByTestId("params-table");
    await table.locator("tbody tr").first().waitFor();
    const differing = await table.locator("tbody tr.differs").evaluateAll(
      (trs) => trs.map((tr) => tr.getAttribute("data-key")),
    );
    assertEquals(differing, ["arch", "lr", "optimizer.name", "seed"]);
    await page.goto(`${server.url}#/compare?ids=p_lr_0_1,p_lr_0_03,p_lr_0_001`);
    await table.locator("tbody tr").first().waitFor();
    assertEquals(await table.locator("tbody tr:visible").count(), 4);
    await page.getByTestId("diff-only").check();
    await waitForText(table, (t) => !t.includes("optimizer.name"));
    const shown = await table.locator("tbody tr:visible td:first-child")
      .allInnerTexts();
    assertEquals(shown, ["lr"]);
    // "diff only" is kept in the URL: a reload keeps the equal keys hidden.
    assertMatch(page.url(), /diff=1/);
    await page.reload();
    await table.locator('tr[data-key="lr"]').waitFor();
    assert(await page.getByTestId("diff-only").isChecked());
    assertEquals(await table.locator("tbody tr:visible").count(), 1);
    assertMatch(
      await page.getByText(/diff only/).innerText(),
      /1 of 4 keys differ/,
    );
    assertEquals(
      await table.locator('tr[data-key="lr"] td').allInnerTexts(),
      ["lr", "0.1", "0.03", "0.001"],
    );

    // Scatter: final loss against lr, one circle per specimen with lr.
    await page.locator('a[data-nav="scatter"]').click();
    await page.getByTestId("scatter").waitFor();
    assertEquals(await page.getByTestId("scatter-param").inputValue(), "lr");
    assertEquals(
      await page.locator("svg.scatter circle[data-specimen]").count(),
      5,
    );
    assertEquals(
      await page.getByTestId("scatter-count").innerText(),
      "5 points",
    );
    const dots = await page.locator("svg.scatter circle").evaluateAll((cs) =>
      cs.map((c) => c.getAttribute("data-specimen")).sort()
    );
    assertEquals(dots, SWEEP.slice(0, 5).map(([id]) => id).sort());
    // The lowest loss is the lowest point: largest cy.
    const cy = async (id: string) =>
      Number(
        await page.locator(`circle[data-specimen="${id}"]`).getAttribute("cy"),
      );
    assert(await cy("p_lr_0_001") > await cy("p_lr_0_1"));
    await page.locator('circle[data-specimen="p_lr_0_01"]').hover();
    assertMatch(
      await page.getByTestId("scatter-hover").innerText(),
      /^p_lr_0_01: lr = 0.01, final loss = 0.3$/,
    );
    // Against seed with max loss: now p_no_lr has a point too.
    await page.getByTestId("scatter-param").selectOption("seed");
    await page.locator("svg.scatter").waitFor();
    await waitForText(
      page.getByTestId("scatter-count"),
      (t) => t === "6 points",
    );
    await page.getByTestId("stat").selectOption("max");
    await waitForText(
      page.getByTestId("scatter-count"),
      (t) => t === "6 points",
    );
    assertMatch(page.url(), /stat=max/);
    // A click opens the specimen.
    await page.locator('circle[data-specimen="p_no_lr"]').click();
    await waitForText(page.getByTestId("specimen-id"), (t) => t === "p_no_lr");

    // Parallel coordinates: a line per specimen with params (not the plain one).
    await page.locator('a[data-nav="parallel"]').click();
    await page.getByTestId("parallel").waitFor();
    assertEquals(
      await page.locator("svg.parallel polyline[data-specimen]").count(),
      6,
    );
    assertEquals(
      await page.getByTestId("parallel-count").innerText(),
      "6 specimens, one line each.",
    );
    // Axes: arch, lr, optimizer.name, seed and the metric; arch categorical.
    const labels = await page.locator("svg.parallel text.label")
      .allTextContents();
    assertEquals(labels, [
      "arch",
      "lr (log)",
      "optimizer.name",
      "seed",
      "final loss",
    ]);
    assert(
      (await page.locator("svg.parallel text.tick").allTextContents()).includes(
        "cnn",
      ),
    );
    // The specimen without lr passes through n/a on the lr axis.
    const points = async (id: string) =>
      (await page.locator(`polyline[data-specimen="${id}"]`).getAttribute(
        "points",
      ))!
        .split(" ").map((p) => Number(p.split(",")[1]));
    const noLr = await points("p_no_lr");
    const withLr = await points("p_lr_0_1");
    assert(noLr[1] > withLr[1], `${noLr} vs ${withLr}`);
    // Only two axes, no metric.
    await page.getByLabel("axis arch").uncheck();
    await page.getByTestId("parallel").waitFor();
    await page.getByLabel("axis optimizer.name").uncheck();
    await waitForText(
      svgText(page.locator("svg.parallel")),
      (t) => !t.includes("optimizer.name"),
    );
    await page.getByTestId("metric").selectOption("none");
    await waitForText(
      svgText(page.locator("svg.parallel")),
      (t) => !t.includes("final loss"),
    );
    assertEquals(await page.locator("svg.parallel polyline").count(), 6);
    assertEquals(problems, [], "no script error or failed request");
  } finally {
    await browser.close();
  }
});

Deno.test("dashboard in Chromium: parallel coordinates says when more than 1,000 specimens matched and draws 1,000", async () => {
  await using v = await tempVault();
  const specimens = join(v.path, "specimens");
  // 1,005 specimens with a param, written straight as manifests (fast).
  for (let i = 0; i < 1005; i++) {
    await writeSpecimen(v.path, {
      id: `s${String(i).padStart(4, "0")}`,
      created: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      extra: { params: { lr: (i + 1) / 1e4, arch: i % 2 ? "mlp" : "cnn" } },
      metrics: null,
    });
  }
  assert((await Array.fromAsync(Deno.readDir(specimens))).length === 1005);
  await using server = await serveVault(v.path);
  const browser = await launch();
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 },
    });
    await page.goto(`${server.url}#/parallel?metric=none`);
    await page.getByTestId("parallel").waitFor();
    assertEquals(
      await page.getByTestId("parallel-count").innerText(),
      "1,005 specimens matched; only the newest 1,000 are shown (the limit is 1,000).",
    );
    assertEquals(await page.locator("svg.parallel polyline").count(), 1000);
    // The oldest five are left out.
    assertEquals(
      await page.locator('polyline[data-specimen="s0004"]').count(),
      0,
    );
    assertEquals(
      await page.locator('polyline[data-specimen="s1004"]').count(),
      1,
    );
  } finally {
    await browser.close();
  }
});
