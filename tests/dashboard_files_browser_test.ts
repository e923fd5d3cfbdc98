/**
 * Kept files in a real browser (Debian's Chromium, playwright-core): the
 * specimen page shows adopted images, and a scripted SVG runs nothing,
 * neither embedded in the page nor opened directly by its URL.
 *
 * @module
 */
import { chromium } from "playwright-core";
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import {
  addAdoptedFilesSpecimen,
  FILES_ID,
  MARKER,
} from "./testdata/adopted_files_fixtures.ts";
import { FILE_CSP } from "../lib/dashboard/_api_files.ts";
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

Deno.test("dashboard in Chromium: adopted images show, and a scripted SVG runs no script embedded or opened directly", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM to its path`,
    );
  }
  await using v = await tempVault();
  await addAdoptedFilesSpecimen(v.path);
  await using server = await serveVault(v.path);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: LAUNCH_ARGS,
  });
  try {
    const context = await browser.newContext();
    const requests: string[] = [];
    context.on("request", (r) => requests.push(r.url()));
    const page = await context.newPage();

    // The specimen page: both images load and are drawn.
    await page.goto(`${server.url}#/s/${FILES_ID}`);
    const files = page.getByTestId("files");
    await files.waitFor();
    for (const name of ["plots__loss", "evil"]) {
      const img = files.locator(`figure[data-file="${name}"] img`);
      await img.waitFor();
      const deadline = Date.now() + 120_000;
      let width = 0;
      while (Date.now() < deadline) {
        width = await img.evaluate((el) =>
          (el as unknown as { complete: boolean; naturalWidth: number })
              .complete
            ? (el as unknown as { naturalWidth: number }).naturalWidth
            : 0
        );
        if (width > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assertEquals(width, name === "evil" ? 40 : 12, `${name} is drawn`);
    }
    // Other files are listed with a download link, not embedded.
    const rows = files.locator("tr[data-file]");
    assertEquals(await rows.count(), 3);
    assertEquals(
      await files.locator('tr[data-file="report"] a[download]').count(),
      1,
    );
    assertEquals(await files.locator('img[src$="/report"]').count(), 0);
    // Every image has loaded: a script of theirs would have run by now.
    await page.waitForLoadState("load");
    assert(
      !(await page.title()).includes(MARKER),
      "the embedded SVG changed the title",
    );
    assertEquals(await page.evaluate(`globalThis.${MARKER} ?? null`), null);

    // The SVG's own URL, opened as a page: sandboxed, no script runs.
    const svgUrl = `${server.url}api/specimens/${FILES_ID}/files/evil`;
    const direct = await context.newPage();
    const res = await direct.goto(svgUrl);
    assertEquals(res!.status(), 200);
    assertEquals(res!.headers()["content-security-policy"], FILE_CSP);
    assertEquals(res!.headers()["x-content-type-options"], "nosniff");
    // It rendered (an SVG document with its rect), as a sandboxed document.
    await direct.waitForLoadState("load");
    assertEquals(await direct.locator("rect").count(), 1);
    // Loaded and parsed: an inline script would have run during the parse.
    assert(
      !(await direct.title()).includes(MARKER),
      "the SVG's script ran when opened directly",
    );
    assertEquals(await direct.evaluate(`globalThis.${MARKER} ?? null`), null);
    // Sandboxed: an opaque origin, so no access to the dashboard's storage.
    assertEquals(await direct.evaluate("self.origin"), "null");
    assertEquals(
      await page.evaluate(`localStorage.getItem("m")`),
      null,
    );

    // No request ever carried the marker (onload, <script>, HTML page).
    const leaked = requests.filter((u) => u.includes(MARKER));
    assertEquals(leaked, []);
    await direct.close();
    await context.close();
  } finally {
    await browser.close();
  }
});
