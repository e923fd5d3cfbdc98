/**
 * Curating in the dashboard, in a real browser (Debian's Chromium driven by
 * playwright-core): labels and the star on the specimen page, bulk labels
 * and the label filter on the catalog, discard only after a confirmation;
 * and the curating API's refusals (another origin, no confirmation).
 *
 * @module
 */
import { chromium } from "playwright-core";
import { join } from "../lib/_deps.ts";
import {
  addExampleSpecimen,
  EXAMPLE_ID,
  serveVault,
} from "./testdata/dashboard_fixtures.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import { assert, assertEquals, assertMatch, tempVault } from "./utils.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
];

async function waitFor(
  ok: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function labelsOf(vault: string, id: string): Promise<string[]> {
  try {
    const f = JSON.parse(
      await Deno.readTextFile(join(vault, "specimens", id, "labels.json")),
    );
    return Object.keys(f.labels).sort();
  } catch {
    return [];
  }
}

async function fixtureVault(path: string) {
  await addExampleSpecimen(path);
  for (const [i, id] of ["sweep_a", "sweep_b", "sweep_c"].entries()) {
    await writeSpecimen(path, {
      id,
      tags: ["sweep"],
      created: `2024-12-2${i}T00:00:00Z`,
    });
  }
}

Deno.test("dashboard in Chromium: labels and star on the specimen page, bulk labels, label filter, discard after a confirmation", async () => {
  await using v = await tempVault();
  await fixtureVault(v.path);
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

    // Specimen page: add a label, star, remove the label.
    await page.goto(`${server.url}#/s/${EXAMPLE_ID}`);
    await page.getByTestId("curate-card").waitFor();
    await page.getByTestId("curate-label-input").fill("baseline");
    await page.getByTestId("curate-add").click();
    await page.locator('[data-testid="curate-labels"] [data-label="baseline"]')
      .waitFor();
    assertEquals(await labelsOf(v.path, EXAMPLE_ID), ["baseline"]);
    await page.getByTestId("curate-star").click();
    await waitFor(
      async () =>
        (await page.getByTestId("curate-star").innerText()).includes("Starred"),
      "the star",
    );
    await page.getByTestId("curate-label-input").fill("keep");
    await page.getByTestId("curate-label-input").press("Enter");
    await page.locator('[data-label="keep"]').waitFor();
    await page.getByRole("button", { name: "remove label baseline" }).click();
    await page.locator('[data-label="baseline"]').waitFor({
      state: "detached",
    });
    assertEquals(await labelsOf(v.path, EXAMPLE_ID), ["keep"]);
    // A bad label is refused with the rule, in the page.
    await page.getByTestId("curate-label-input").fill("no spaces");
    await page.getByTestId("curate-add").click();
    await waitFor(
      async () =>
        /Invalid label/.test(
          await page.getByTestId("curate-status").innerText(),
        ),
      "the refusal",
    );

    // Catalog: pick two, add a label to both, filter by it.
    await page.goto(`${server.url}#/`);
    await page.getByTestId("curate-bar").waitFor();
    await page.getByRole("checkbox", { name: "pick sweep_a" }).check();
    await page.getByRole("checkbox", { name: "pick sweep_b" }).check();
    await waitFor(
      async () =>
        (await page.getByTestId("bulk-count").innerText()).startsWith(
          "2 selected",
        ),
      "the count",
    );
    await page.getByTestId("bulk-label-input").fill("junk");
    await page.getByTestId("bulk-add").click();
    await waitFor(
      async () => (await labelsOf(v.path, "sweep_b")).includes("junk"),
      "the labels file",
    );
    assertEquals(await labelsOf(v.path, "sweep_a"), ["junk"]);
    // Each row shows its labels and star beside its id.
    await page.locator('tr[data-id="sweep_a"] [data-label="junk"]').waitFor();
    await waitFor(
      async () =>
        (await page.locator(`tr[data-id="${EXAMPLE_ID}"]`).innerText())
          .includes("★"),
      "the star in the catalog",
    );
    await waitFor(
      async () =>
        (await page.getByTestId("label-filter").innerText()).includes(
          "junk (2)",
        ),
      "the label facet",
    );
    await page.getByTestId("label-filter").selectOption("junk");
    await waitFor(
      async () =>
        /1–2 of 2 matching/.test(await page.getByTestId("counts").innerText()),
      "the filtered count",
    );
    assertEquals(await page.locator("tr[data-id]").count(), 2);
    await page.getByTestId("starred-filter").check();
    await waitFor(
      async () =>
        /No specimen|0 matching/i.test(
          await page.getByTestId("catalog").innerText().catch(() => ""),
        ) || (await page.locator("tr[data-id]").count()) === 0,
      "no starred junk",
    );

    // Discard the selection: Cancel moves nothing; Discard (with a reason) does.
    await page.goto(`${server.url}#/?label=junk`);
    await page.getByTestId("curate-bar").waitFor();
    await waitFor(
      async () =>
        (await page.getByTestId("bulk-count").innerText()).startsWith(
          "2 selected",
        ),
      "the kept selection",
    );
    await page.getByTestId("bulk-discard").click();
    await page.getByTestId("curate-dialog").waitFor();
    await page.getByTestId("curate-cancel").click();
    await page.getByTestId("curate-dialog").waitFor({ state: "detached" });
    assert(
      await exists(join(v.path, "specimens", "sweep_a")),
      "Cancel moved nothing",
    );
    await page.getByTestId("bulk-discard").click();
    await page.getByTestId("curate-reason").fill("junk sweep points");
    await page.getByTestId("curate-confirm").click();
    await waitFor(
      async () => await exists(join(v.path, "trash", "sweep_b")),
      "the discard",
    );
    assert(!(await exists(join(v.path, "specimens", "sweep_a"))));
    const rec = JSON.parse(
      await Deno.readTextFile(join(v.path, "trash", "sweep_a.discard.json")),
    );
    assertEquals(rec.reason, "junk sweep points");
    await waitFor(
      async () => (await page.locator("tr[data-id]").count()) === 0,
      "the catalog without them",
    );

    // From the specimen page: a confirmation, then back to the catalog.
    await page.goto(`${server.url}#/s/sweep_c`);
    await page.getByTestId("curate-discard").click();
    await page.getByTestId("curate-confirm").click();
    await waitFor(
      async () => await exists(join(v.path, "trash", "sweep_c")),
      "the discard",
    );
    await waitFor(
      () =>
        Promise.resolve(
          new URL(page.url()).hash === "#/" || new URL(page.url()).hash === "",
        ),
      "the catalog",
    );
    assertEquals(problems, []);
  } finally {
    await browser.close();
  }
});

Deno.test("the curating API refuses another origin, a form post and a discard without confirmation", async () => {
  await using v = await tempVault();
  await fixtureVault(v.path);
  await using server = await serveVault(v.path);
  const url = new URL("/api/curate/discard", server.url);
  const body = JSON.stringify({ ids: ["sweep_a"], confirm: true });
  const cross = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: "http://evil.example",
    },
    body,
  });
  assertEquals(cross.status, 403);
  await cross.body?.cancel();
  const form = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "ids=sweep_a",
  });
  assertEquals(form.status, 400);
  await form.body?.cancel();
  const unconfirmed = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ids: ["sweep_a"] }),
  });
  assertEquals(unconfirmed.status, 400);
  assertMatch((await unconfirmed.json()).error, /confirm/);
  assert(
    await exists(join(v.path, "specimens", "sweep_a")),
    "nothing was moved",
  );
  const bad = await fetch(new URL("/api/curate/labels", server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ids: ["../x"], add: ["a"] }),
  });
  assertEquals(bad.status, 400);
  await bad.body?.cancel();
  const missing = await fetch(
    new URL("/api/curate/specimens/nope", server.url),
  );
  assertEquals(missing.status, 404);
  await missing.body?.cancel();
  const ok = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  assertEquals(ok.status, 200);
  assertEquals((await ok.json()).discarded, ["sweep_a"]);
  const again = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const r = await again.json();
  assertEquals(r.refused[0].kind, "conflict");
});
