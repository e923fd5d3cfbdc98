/**
 * Issue 27's dashboard items as a researcher meets them, in Debian's
 * Chromium through playwright-core: a failed run's page leads with its
 * outcome, params and versions; histograms are distributions; scatter and
 * parallel coordinates open on something; the catalog shows, sorts and
 * filters a result and searches field notes; and `serve` follows the vault
 * by itself (a new specimen appears, a running log's curve grows).
 *
 * Set UPDATE_SCREENSHOTS=1 to write the README's docs/screenshots/specimen.png
 * (a failed run's page); the catalog's screenshot goes to a temp folder.
 *
 * @module
 */
import { chromium, type Page } from "playwright-core";
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { MetricsLogger } from "../lib/metrics_log/logger.ts";
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import {
  FAILED_ID,
  finalValLoss,
  importTensorBoardRun,
  OLDER,
  researcherVault,
  SWEEP,
} from "./testdata/researcher_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  INTEROP,
  ROOT,
  tempDir,
  tempVault,
} from "./utils.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"];
const EXPECTED = JSON.parse(
  await Deno.readTextFile(join(INTEROP, "trackers", "EXPECTED.json")),
);

/** Polls `read()` until `ok` holds (the page's CSP forbids waitForFunction). */
async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v: T | undefined;
  while (Date.now() < deadline) {
    v = await read().catch(() => undefined as T);
    if (v !== undefined && ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `Timed out waiting for ${what}; last seen: ${JSON.stringify(v)}`,
  );
}

const text = (page: Page, sel: string) => () => page.locator(sel).innerText();

/** Attribute `name` of every element `locator` matches, in order. */
async function attrs(
  locator: ReturnType<Page["locator"]>,
  name: string,
): Promise<string[]> {
  // One read of every element at once: a table redrawn between a listing
  // and a per-element read would leave handles that wait for ever.
  return await locator.evaluateAll(
    (els, n) => els.map((e) => e.getAttribute(n) ?? ""),
    name,
  );
}

Deno.test("dashboard in Chromium: the researcher's first hour (issue 27, items 6 to 9)", async (t) => {
  await using v = await tempVault();
  await using scratch = await tempDir();
  await researcherVault(v.path);
  const tbId = await importTensorBoardRun(v.path, scratch.path);
  await using server = await serveVault(v.path, {
    autoIndex: true,
    autoIndexMs: 100,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: LAUNCH_ARGS,
  });
  const shots = Deno.env.get("UPDATE_SCREENSHOTS") === "1"
    ? join(ROOT, "docs", "screenshots")
    : scratch.path;
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 },
    });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });

    await t.step(
      "a failed run's page leads with its outcome, params and versions",
      async () => {
        await page.goto(`${server.url}#/s/${FAILED_ID}`);
        const outcome = page.getByTestId("outcome");
        await outcome.waitFor();
        // The run card comes before every chart.
        const cards = page.locator("#main > .card");
        const order = await attrs(cards, "data-testid");
        const tables = await attrs(cards, "data-table");
        // (The labels card, curating's, is not a chart: left out here.)
        assertEquals(
          order.map((id, i) => id || tables[i])
            .filter((id) => id !== "curate-card").slice(0, 4),
          ["", "outcome", "metrics", "system"],
        );
        assertMatch(
          await page.getByTestId("run-status").innerText(),
          /^failed 3 min 25 s · exit code 1 · started 2026-12-06 09:00Z/,
        );
        const error = await page.getByTestId("run-error").innerText();
        assertMatch(error, /Protocol exited with code 1/);
        assertMatch(error, /python3 train.py: exited with code 1/);
        // The child's stderr first, its last 20 lines: the traceback's end.
        const tail = page.getByTestId("stderr-tail").first();
        assertMatch(
          await tail.locator("summary").innerText(),
          /stderr of exec 1: last 20 lines/,
        );
        const lines = (await tail.locator("pre").innerText()).split("\n");
        assertEquals(lines.length, 21); // "…" and 20 lines
        assertEquals(
          lines.at(-1),
          "torch.OutOfMemoryError: CPU out of memory trying to allocate 12.00 GiB",
        );
        assertEquals(
          await page.getByTestId("params").locator("tr").allInnerTexts(),
          ["lr\t0.5", "hidden\t4,096", 'optimizer.name\t"sgd"'],
        );
        const versions = page.getByTestId("versions");
        assertEquals(
          await versions.locator('[data-version="python"]').innerText(),
          "3.11.2",
        );
        assertEquals(
          await versions.locator('[data-version="torch"]').innerText(),
          "2.3.1+cpu",
        );
        // System metrics: below the results, no clock and no constant total drawn.
        const system = page.locator('.card[data-table="system"]');
        await system.locator(".chart").nth(2).waitFor();
        assertEquals(
          await attrs(system.locator(".chart"), "data-chart"),
          ["cpu_percent", "rss_bytes", "mem_available_bytes"],
        );
        assertEquals(
          await system.locator('input[data-metric="time"]').isChecked(),
          false,
        );
        await page.screenshot({
          path: join(shots, "specimen.png"),
          fullPage: false,
        });
      },
    );

    await t.step(
      "an imported TensorBoard histogram is a distribution over steps",
      async () => {
        await page.goto(`${server.url}#/s/${tbId}`);
        const dist = page.locator(
          'svg[data-testid="distribution"][data-tag="weights/dense1"]',
        );
        await dist.waitFor();
        const want =
          EXPECTED.tensorboard.runs.run_a.histograms["weights/dense1"];
        assertEquals(
          await dist.getAttribute("data-steps"),
          String(want.steps.length),
        );
        assertEquals(await dist.locator("path.band").count(), 4);
        const median = await dist.locator("polyline.median").getAttribute(
          "points",
        );
        assertEquals(median!.split(" ").length, want.steps.length);
        // Its rows are not drawn as curves of min, max, sum…
        assertEquals(
          await page.locator('.card[data-table="histograms"]').count(),
          0,
        );
      },
    );

    await t.step(
      "the catalog shows a result, sorts and filters by it, and searches notes",
      async () => {
        await page.goto(server.url);
        await page.getByTestId("result-metric").selectOption({
          label: "val_loss · 7",
        });
        await page.locator('th[data-result="final"]').click(); // ascending
        const ids = () =>
          attrs(
            page.locator('table[data-testid="catalog"] tbody tr'),
            "data-id",
          );
        const ranked = SWEEP.map((s, i) => [finalValLoss(i), s.id] as const)
          .sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
          .map(([, id]) => id);
        await until(
          ids,
          (x) => x[0] === ranked[0],
          "the catalog sorted by final val_loss",
        );
        assertEquals((await ids()).slice(0, 7), [...ranked, FAILED_ID]);
        const best = page.locator(
          `tr[data-id="${ranked[0]}"] td[data-result="final"]`,
        );
        assertEquals(
          await best.innerText(),
          String(finalValLoss(SWEEP.findIndex((s) => s.id === ranked[0]))),
        );
        // Keep final val_loss ≤ 0.6.
        await page.getByTestId("result-max").fill("0.6");
        await page.getByTestId("result-max").press("Enter");
        const under = SWEEP.filter((_, i) => finalValLoss(i) <= 0.6).length;
        await until(
          text(page, '[data-testid="counts"]'),
          (s) => s.startsWith(`1–${under} of ${under} matching`),
          "the result filter",
        );
        // Field notes: a word that is only in the notes.
        await page.goto(`${server.url}#/`);
        await until(
          text(page, '[data-testid="counts"]'),
          (s) => s.startsWith("1–12 of 12 matching"),
          "the filters cleared",
        );
        await page.getByTestId("notes-search").fill("gradient checkpointing");
        await until(
          ids,
          (x) => x.length === 1 && x[0] === FAILED_ID,
          "the notes search",
        );
        assertMatch(
          await page.locator(`tr[data-id="${FAILED_ID}"] .notes-excerpt`)
            .innerText(),
          /gradient checkpointing/,
        );
      },
    );

    await t.step(
      "scatter opens on a varying param and a metric those specimens have",
      async () => {
        await page.goto(`${server.url}#/scatter`);
        const count = page.getByTestId("scatter-count");
        // lr varies over the sweep, which logs val_loss (not the older `loss`).
        await until(
          () => count.innerText(),
          (s) => s === "7 points",
          "7 points",
        );
        assertEquals(
          await page.getByTestId("scatter-param").inputValue(),
          "lr",
        );
        assertEquals(await page.getByTestId("metric").inputValue(), "val_loss");
        await page.getByTestId("scope-tag").selectOption("wide");
        await until(
          () => count.innerText(),
          (s) => s === "3 points",
          "3 wide points",
        );
        await page.goto(
          `${server.url}#/scatter?prefix=mlp_sweep_&color=hidden`,
        );
        await until(
          () => count.innerText(),
          (s) => s === "6 points",
          "6 sweep points",
        );
        const fills = [
          ...new Set(await attrs(page.locator("svg.scatter circle"), "style")),
        ];
        assertEquals(
          fills.length,
          2,
          `two colours for hidden 32 and 64: ${fills}`,
        );
        assertMatch(
          await page.getByTestId("scatter-legend").innerText(),
          /hidden:\s+32 \(low\)\s+64 \(high\)/,
        );
      },
    );

    await t.step(
      "parallel coordinates open on the params that vary, every line on its axes",
      async () => {
        await page.goto(`${server.url}#/parallel?prefix=mlp_sweep_`);
        const count = page.getByTestId("parallel-count");
        await until(
          () => count.innerText(),
          (s) => s.startsWith("6 specimens"),
          "6 lines",
        );
        const axes = page.getByTestId("parallel-keys");
        assertEquals(await axes.getByLabel("axis lr").isChecked(), true);
        assertEquals(await axes.getByLabel("axis hidden").isChecked(), true);
        assertEquals(await axes.getByLabel("axis seed").count(), 0); // not in scope
        const ys =
          (await attrs(page.locator("svg.parallel polyline"), "points"))
            .flatMap((p) => p.split(" ").map((xy) => Number(xy.split(",")[1])));
        assert(ys.length >= 6 * 3, `${ys.length} vertices`);
        assert(ys.every((y) => y <= 364), "no line passes through n/a");
        // The whole vault: the older specimens' constant seed is no axis.
        await page.goto(`${server.url}#/parallel`);
        await until(
          () => count.innerText(),
          (s) => /specimens/.test(s),
          "lines",
        );
        assertEquals(await axes.getByLabel("axis seed").isChecked(), false);
        assertEquals(OLDER.length, 4);
      },
    );

    await t.step(
      "serve follows the vault: a new specimen appears, a running log's curve grows",
      async () => {
        await page.goto(server.url);
        await until(
          text(page, '[data-testid="counts"]'),
          (s) => s.endsWith("12 specimens in the vault"),
          "12 specimens",
        );
        const { dir } = await createSpecimen({
          vault: v.path,
          id: "mlp_live",
          domain: "training",
          method: "fine_tuning",
          params: { lr: 0.02 },
        });
        await using log = await MetricsLogger.open({ dir, name: "metrics" });
        for (let step = 0; step < 5; step++) {
          log.log({ step, loss: 1 / (step + 1) });
        }
        await log.flush();
        // No reload: the page follows the catalog the server rebuilt.
        await until(
          text(page, '[data-testid="counts"]'),
          (s) => s.endsWith("13 specimens in the vault"),
          "the new specimen in the catalog",
        );
        assertMatch(
          await page.locator("#status").innerText(),
          /catalog updated \d\d:\d\d:\d\d/,
        );
        await page.goto(`${server.url}#/s/mlp_live`);
        const points = page.locator(
          '.chart[data-chart="loss"] .chart-title span',
        );
        await until(
          () => points.innerText(),
          (s) => s === "5 points",
          "5 points",
        );
        for (let step = 5; step < 12; step++) {
          log.log({ step, loss: 1 / (step + 1) });
        }
        await log.flush();
        await until(
          () => points.innerText(),
          (s) => s === "12 points",
          "the curve grown to 12 points",
        );
        assertMatch(
          await page.locator(
            '.card[data-table="metrics"] [data-testid="table-rows"]',
          ).innerText(),
          /^12 rows$/,
        );
      },
    );

    await t.step(
      "the catalog reads well with a result column (screenshot)",
      async () => {
        await page.goto(
          `${server.url}#/?result=val_loss&sort=result:final&order=asc`,
        );
        await page.locator('th[data-result="final"]').waitFor();
        await page.screenshot({ path: join(scratch.path, "catalog.png") });
        const size = (await Deno.stat(join(scratch.path, "catalog.png"))).size;
        assert(size > 10_000, `screenshot is ${size} bytes`);
      },
    );
    assertEquals(problems, []);
  } finally {
    await browser.close();
  }
});
