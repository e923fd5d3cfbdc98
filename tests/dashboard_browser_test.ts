/**
 * The dashboard in a real browser: Debian's Chromium driven by
 * playwright-core. Set UPDATE_SCREENSHOTS=1 to write the README's screenshot
 * (docs/screenshots/dashboard.png); otherwise it goes to a temp folder and
 * only its size is checked.
 *
 * @module
 */
// A full specifier until deno.json's imports name playwright-core.
import { chromium } from "playwright-core";
import { join } from "../lib/_deps.ts";
import {
  addExampleSpecimen,
  EXAMPLE_ID,
  serveVault,
} from "./testdata/dashboard_fixtures.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
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

Deno.test("dashboard in Chromium: catalog, specimen charts, compare, SQL, screenshot", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM to its path`,
    );
  }
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
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: LAUNCH_ARGS,
  });
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
