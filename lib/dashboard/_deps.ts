/**
 * The dashboard's third-party code, named in one place: uPlot (charts, served
 * to the browser as text from the npm package, no build step) and marked
 * (Markdown, rendered on the server).
 *
 * @module
 */
import uplotJs from "uplot/dist/uPlot.iife.min.js" with {
  type: "text",
};
import uplotCss from "uplot/dist/uPlot.min.css" with {
  type: "text",
};

export { Marked, type Tokens } from "marked";

/** uPlot's browser build (defines the global `uPlot`). */
export const UPLOT_JS: string = uplotJs;
/** uPlot's stylesheet. */
export const UPLOT_CSS: string = uplotCss;
