/**
 * The dashboard's static files, held in memory: the page, its script and
 * styles (from `dashboard_assets/`), and uPlot (from its npm package). Each
 * is served under one fixed path; no file is ever looked up by request path.
 *
 * @module
 */
import { UPLOT_CSS, UPLOT_JS } from "./_deps.ts";
import indexHtml from "./assets/index.html" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import iconSvg from "./assets/icon.svg" with { type: "text" };

/** The single page. */
export const INDEX_HTML: string = indexHtml;

/** A static file: its body and content type. */
export interface Asset {
  body: string;
  type: string;
}

/** Every static file by its exact URL path. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/assets/app.js", { body: appJs, type: "text/javascript; charset=utf-8" }],
  ["/assets/app.css", { body: appCss, type: "text/css; charset=utf-8" }],
  ["/assets/uplot.js", {
    body: UPLOT_JS,
    type: "text/javascript; charset=utf-8",
  }],
  ["/assets/uplot.css", { body: UPLOT_CSS, type: "text/css; charset=utf-8" }],
  ["/assets/icon.svg", { body: iconSvg, type: "image/svg+xml" }],
]);
