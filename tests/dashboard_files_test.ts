/**
 * The dashboard's kept-file route over HTTP: headers that keep any script in
 * a file (an SVG, an HTML page) out of the dashboard's origin.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { FILE_CSP } from "../lib/dashboard/_api_files.ts";
import { serveVault } from "./testdata/dashboard_fixtures.ts";
import {
  addAdoptedFilesSpecimen,
  FILES_ID,
  PNG,
  SCRIPTED_SVG,
} from "./testdata/adopted_files_fixtures.ts";
import { assert, assertEquals, tempVault } from "./utils.ts";

const CSP_SANDBOX = /(^|;)\s*sandbox\s*(;|$)/;

Deno.test("GET /api/specimens/:id lists kept files with their URL, size, media type", async () => {
  await using v = await tempVault();
  await addAdoptedFilesSpecimen(v.path);
  await using server = await serveVault(v.path);
  const res = await fetch(`${server.url}api/specimens/${FILES_ID}`);
  const body = await res.json();
  const files = Object.fromEntries(
    // deno-lint-ignore no-explicit-any
    body.files.map((f: any) => [f.name, f]),
  );
  assertEquals(Object.keys(files).sort(), [
    "evil",
    "model",
    "notes",
    "plots__loss",
    "report",
  ]);
  assertEquals(files.plots__loss.image, true);
  assertEquals(files.plots__loss.media_type, "image/png");
  assertEquals(files.plots__loss.bytes, PNG.length);
  assertEquals(files.plots__loss.source, "plots/loss.png");
  assertEquals(files.evil.image, true);
  assertEquals(files.report.image, false);
  assertEquals(files.model.media_type, "application/octet-stream");
  assertEquals(
    files.plots__loss.url,
    `/api/specimens/${FILES_ID}/files/plots__loss`,
  );
});

Deno.test("kept files are served sandboxed: CSP sandbox, nosniff, attachment unless an embedded image", async (t) => {
  await using v = await tempVault();
  await addAdoptedFilesSpecimen(v.path);
  await using server = await serveVault(v.path);
  const get = (name: string, method = "GET") =>
    fetch(`${server.url}api/specimens/${FILES_ID}/files/${name}`, { method });
  const cases = [
    ["plots__loss", "image/png", "inline"],
    ["evil", "image/svg+xml", "inline"],
    ["report", "text/html", "attachment"],
    ["model", "application/octet-stream", "attachment"],
    ["notes", "text/plain", "attachment"],
  ] as const;
  for (const [name, type, disposition] of cases) {
    await t.step(`${name}: ${type}, ${disposition}`, async () => {
      const res = await get(name);
      const bytes = new Uint8Array(await res.arrayBuffer());
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-type"), type);
      assertEquals(res.headers.get("content-security-policy"), FILE_CSP);
      assert(CSP_SANDBOX.test(FILE_CSP));
      assert(!/allow-scripts|allow-same-origin/.test(FILE_CSP));
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      assert(
        res.headers.get("content-disposition")!.startsWith(disposition),
        res.headers.get("content-disposition")!,
      );
      assertEquals(res.headers.get("content-length"), String(bytes.length));
      const onDisk = await Deno.readFile(
        join(
          v.path,
          "specimens",
          FILES_ID,
          "strata",
          "files",
          {
            plots__loss: "plots__loss.png",
            evil: "evil.svg",
            report: "report.html",
            model: "model.ckpt",
            notes: "notes.txt",
          }[name],
        ),
      );
      assertEquals(bytes, onDisk);
    });
  }
  await t.step(
    "the SVG is served byte for byte, script and all (it never runs)",
    async () => {
      const res = await get("evil");
      assertEquals(await res.text(), SCRIPTED_SVG);
    },
  );
  await t.step("HEAD answers the same headers without a body", async () => {
    const res = await get("evil", "HEAD");
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-security-policy"), FILE_CSP);
    assertEquals(await res.text(), "");
  });
  await t.step(
    "unknown names, other artifacts and bad names are refused",
    async () => {
      for (
        const [name, status] of [
          ["nope", 404],
          ["metrics", 404], // a table, not a kept file
          ["..%2F..%2Fmanifest", 400],
          ["a.b", 400],
        ] as const
      ) {
        const res = await get(name);
        await res.body?.cancel();
        assertEquals(res.status, status, name);
      }
      const res = await fetch(
        `${server.url}api/specimens/..%2Fx/files/evil`,
      );
      await res.body?.cancel();
      assertEquals(res.status, 400);
    },
  );
  await t.step(
    "a kept file replaced by a link leading out is refused",
    async () => {
      const path = join(
        v.path,
        "specimens",
        FILES_ID,
        "strata/files/notes.txt",
      );
      await Deno.remove(path);
      await Deno.symlink("/etc/hostname", path);
      const res = await get("notes");
      const body = await res.json();
      assertEquals(res.status, 403);
      assertEquals(body.kind, "unsafe_file");
    },
  );
});

Deno.test("a manifest's hostile media type or path cannot widen what is served", async () => {
  await using v = await tempVault();
  await addAdoptedFilesSpecimen(v.path);
  // Edit the manifest as a hostile vault could: the catalog reads it as is.
  const { readManifest, writeManifest } = await import(
    "../lib/specimen/manifest.ts"
  );
  const dir = join(v.path, "specimens", FILES_ID);
  const m = await readManifest(dir);
  m.artifacts.notes.media_type = "text/html; charset=utf-8\r\nX-Evil: 1";
  m.artifacts.model.path = "manifest.msgpack";
  await writeManifest(dir, m);
  await using server = await serveVault(v.path);
  const notes = await fetch(
    `${server.url}api/specimens/${FILES_ID}/files/notes`,
  );
  await notes.body?.cancel();
  assertEquals(notes.headers.get("content-type"), "application/octet-stream");
  assertEquals(notes.headers.get("x-evil"), null);
  assert(notes.headers.get("content-disposition")!.startsWith("attachment"));
  const model = await fetch(
    `${server.url}api/specimens/${FILES_ID}/files/model`,
  );
  await model.body?.cancel();
  assertEquals(model.status, 404);
});
