/**
 * A specimen whose run left files in SPECIMEN_OUTPUTS, adopted for real: a
 * PNG, an SVG carrying script (every way an SVG can try to run some), an
 * HTML page with script, a checkpoint and a text file.
 *
 * @module
 */
import { join } from "../../lib/_deps.ts";
import { adoptOutputs } from "../../lib/run/adopt_outputs.ts";
import { newStorage } from "../utils.ts";

/** The specimen's id. */
export const FILES_ID = "adopted_files";

/** A 12 × 8 red PNG. */
export const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAwAAAAICAIAAABChommAAAAEUlEQVR4nGO4o6FBEDGMKgIAUndwgUVTiJsAAAAASUVORK5CYII=",
  ),
  (c) => c.charCodeAt(0),
);

/** What the script in the SVG and the HTML would leave if it ran. */
export const MARKER = "PWNED_BY_SVG";

/** An SVG that tries to run script on load, inline and by event. */
export const SCRIPTED_SVG =
  `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="document.title='${MARKER}';fetch('/${MARKER}?onload')">
<script>document.title = '${MARKER}'; window.${MARKER} = 1; fetch('/${MARKER}?script'); try { localStorage.setItem('m', '${MARKER}') } catch (e) {}</script>
<rect width="40" height="40" fill="rgb(0,128,0)"/>
</svg>
`;

/** An HTML page with script: never rendered in the dashboard's origin. */
export const SCRIPTED_HTML =
  `<!doctype html><title>x</title><script>document.title='${MARKER}';fetch('/${MARKER}?html')</script>`;

/** Writes the outputs and adopts them into specimen {@linkcode FILES_ID}. */
export async function addAdoptedFilesSpecimen(vault: string): Promise<void> {
  const out = await Deno.makeTempDir({ prefix: "sv_outputs_" });
  try {
    await Deno.mkdir(join(out, "plots"));
    await Deno.writeFile(join(out, "plots", "loss.png"), PNG);
    await Deno.writeTextFile(join(out, "evil.svg"), SCRIPTED_SVG);
    await Deno.writeTextFile(join(out, "report.html"), SCRIPTED_HTML);
    await Deno.writeFile(join(out, "model.ckpt"), new Uint8Array(4096).fill(7));
    await Deno.writeTextFile(join(out, "notes.txt"), "trained for 3 epochs\n");
    const storage = await newStorage(vault, FILES_ID);
    await storage.writeMetrics({ step: [0, 1, 2], loss: [1, 0.5, 0.25] });
    await adoptOutputs(storage, out);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}
