// deno-lint-ignore-file no-import-prefix -- a deps module: npm packages by full specifiers, so lib/ works imported by path from any script
/**
 * The dashboard's third-party code, named in one place: uPlot (charts, served
 * to the browser as text from the npm package, no build step) and marked
 * (Markdown, rendered on the server).
 *
 * @module
 */
import uplotJs from "npm:uplot@1.6.32/dist/uPlot.iife.min.js" with {
  type: "text",
};
import uplotCss from "npm:uplot@1.6.32/dist/uPlot.min.css" with {
  type: "text",
};

export { Marked, type Tokens } from "npm:marked@18.2.1";

/** uPlot's browser build (defines the global `uPlot`). */
export const UPLOT_JS: string = uplotJs;
/** uPlot's stylesheet. */
export const UPLOT_CSS: string = uplotCss;
