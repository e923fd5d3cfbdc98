/**
 * The dashboard's params pages in a real browser (Debian's Chromium,
 * playwright-core) with hostile values (issue 22, "not attacked yet"):
 * string params and metric column names holding HTML, SVG and `javascript:`
 * payloads are shown on the catalog (as param columns), the specimen page,
 * the compare table, the scatter plot and the parallel coordinates; none
 * runs, loads anything, or breaks a page.
 *
 * @module
 */
import { chromium } from "playwright-core";
import { join } from "../lib/_deps.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import type { Params } from "../lib/specimen/params.ts";
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import { paramSpecimen } from "./testdata/params_fixtures.ts";
import { assert, assertEquals, tempVault } from "./utils.ts";

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
const MARKER = "pwn4d";
const PAYLOADS = [
  `<img src=x onerror="globalThis.${MARKER}=1;fetch('/${MARKER}1')">`,
  `"><svg onload="globalThis.${MARKER}=2"></svg>`,
  `javascript:globalThis.${MARKER}=3`,
  `</text><script>globalThis.${MARKER}=4</script><text>`,
  `' onmouseover='globalThis.${MARKER}=5' x='`,
  `<a href="javascript:globalThis.${MARKER}=6">x</a>`,
];
const COLUMN = `<img src=x onerror=globalThis.${MARKER}=7>`;

Deno.test("dashboard in Chromium: hostile param values and metric column names show as text on every params page and run nothing", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM to its path`,
    );
  }
  await using v = await tempVault();
  const ids: string[] = [];
  for (const [i, payload] of PAYLOADS.entries()) {
    const id = `hostile_${i}`;
    ids.push(id);
    const dir = await paramSpecimen(v.path, id, {
      lr: 0.001 * (i + 1),
      name: payload,
      nested: { kind: payload, [`k${i}`]: payload },
    } as Params);
    // A second table whose column name is a payload.
    using db = await openDatabase(":memory:");
    await db.connection.run(
      `COPY (SELECT range::BIGINT AS step, range * 0.5 AS "${
        COLUMN.replaceAll('"', '""')
      }" FROM range(5)) TO '${
        join(dir, "strata", "evil.parquet")
      }' (FORMAT parquet)`,
    );
    const settled = new Date(Date.now() - 60_000);
    await Deno.utime(join(dir, "strata"), settled, settled);
  }
  await using server = await serveVault(v.path);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: LAUNCH_ARGS,
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const requests: string[] = [];
    context.on("request", (r) => requests.push(r.url()));
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    const ran = async (where: string) => {
      // Hover every mark and label: a handler smuggled in would fire.
      for (const sel of ["svg circle", "svg text", "svg polyline", "td"]) {
        const marks = page.locator(sel);
        const n = Math.min(await marks.count(), 30);
        for (let i = 0; i < n; i++) {
          await marks.nth(i).hover({ timeout: 2000, force: true }).catch(
            () => {},
          );
        }
      }
      assertEquals(
        await page.evaluate(`globalThis.${MARKER} ?? null`),
        null,
        `a payload ran on ${where}`,
      );
    };

    // The catalog with the string params as columns.
    await page.goto(
      `${server.url}#/?sort=specimen_id&order=asc&params=name,nested.kind`,
    );
    const cell = page.locator('tr[data-id="hostile_0"] td[data-param="name"]');
    await cell.waitFor();
    assertEquals(await cell.innerText(), PAYLOADS[0]);
    await ran("the catalog");

    // Each specimen page: its params and its tables' columns.
    for (const id of ids.slice(0, 2)) {
      await page.goto(`${server.url}#/s/${id}`);
      await page.locator("main").getByText("evil").first().waitFor();
      await ran(`the page of ${id}`);
    }

    // Compare: the params table, every value as text.
    await page.goto(`${server.url}#/compare?ids=${ids.join(",")}`);
    const table = page.getByTestId("params-table");
    await table.locator('tr[data-key="name"]').waitFor();
    const shown = await table.locator('tr[data-key="name"] td')
      .allInnerTexts();
    for (const payload of PAYLOADS) assert(shown.includes(payload), payload);
    await ran("compare");

    // Scatter and parallel coordinates over the same specimens.
    await page.locator('a[data-nav="scatter"]').click();
    await page.getByTestId("scatter").waitFor();
    await page.locator("svg.scatter circle[data-specimen]").first().waitFor();
    await ran("scatter");
    await page.locator('a[data-nav="parallel"]').click();
    await page.getByTestId("parallel").waitFor();
    await page.locator("svg.parallel polyline[data-specimen]").first()
      .waitFor();
    const ticks = await page.locator("svg.parallel text").allTextContents();
    assert(
      ticks.some((t) => PAYLOADS.some((p) => p.startsWith(t.slice(0, 8)))),
      `the payloads are tick labels: ${ticks.join(" | ")}`,
    );
    await ran("parallel coordinates");

    assertEquals(problems, []);
    // The API is asked about the column by name (in the query); no request
    // goes where a payload points.
    assertEquals(
      requests.filter((u) => new URL(u).pathname.includes(MARKER)),
      [],
    );
    assertEquals(requests.filter((u) => !u.startsWith(server.url)), []);
    await context.close();
  } finally {
    await browser.close();
  }
});
