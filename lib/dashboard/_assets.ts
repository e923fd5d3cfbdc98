/**
 * The dashboard's static files, held in memory: the page, its script
 * modules and styles (from `assets/`), and uPlot (from its npm package).
 * Each is served under one fixed path; no file is ever looked up by request
 * path. The script modules are native ES modules served as they are.
 *
 * @module
 */
import { UPLOT_CSS, UPLOT_JS } from "./_deps.ts";
import indexHtml from "./assets/index.html" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import apiJs from "./assets/api.js" with { type: "text" };
import domJs from "./assets/dom.js" with { type: "text" };
import formatJs from "./assets/format.js" with { type: "text" };
import navJs from "./assets/nav.js" with { type: "text" };
import liveJs from "./assets/live.js" with { type: "text" };
import plotJs from "./assets/plot.js" with { type: "text" };
import svgJs from "./assets/svg.js" with { type: "text" };
import curateJs from "./assets/curate.js" with { type: "text" };
import pagesCatalogJs from "./assets/pages/catalog.js" with { type: "text" };
import pagesCatalogParamsJs from "./assets/pages/catalog_params.js" with {
  type: "text",
};
import pagesCompareJs from "./assets/pages/compare.js" with { type: "text" };
import pagesCompareParamsJs from "./assets/pages/compare_params.js" with {
  type: "text",
};
import pagesParamViewsJs from "./assets/pages/param_views.js" with {
  type: "text",
};
import pagesScatterJs from "./assets/pages/scatter.js" with { type: "text" };
import pagesParallelJs from "./assets/pages/parallel.js" with { type: "text" };
import pagesSpecimenJs from "./assets/pages/specimen.js" with { type: "text" };
import pagesSqlJs from "./assets/pages/sql.js" with { type: "text" };
import pagesTensorJs from "./assets/pages/tensor.js" with { type: "text" };
import pagesSpecimenRunJs from "./assets/pages/specimen_run.js" with {
  type: "text",
};
import pagesDistributionsJs from "./assets/pages/distributions.js" with {
  type: "text",
};
import pagesCatalogResultsJs from "./assets/pages/catalog_results.js" with {
  type: "text",
};
import appCss from "./assets/app.css" with { type: "text" };
import iconSvg from "./assets/icon.svg" with { type: "text" };

/** The single page. */
export const INDEX_HTML: string = indexHtml;

/** A static file: its body and content type. */
export interface Asset {
  body: string;
  type: string;
}

const JS = "text/javascript; charset=utf-8";

/** The script modules by URL path: `app.js` (the router) and what it imports. */
export const SCRIPT_MODULES: ReadonlyMap<string, string> = new Map([
  ["/assets/app.js", appJs],
  ["/assets/api.js", apiJs],
  ["/assets/dom.js", domJs],
  ["/assets/format.js", formatJs],
  ["/assets/nav.js", navJs],
  ["/assets/live.js", liveJs],
  ["/assets/plot.js", plotJs],
  ["/assets/svg.js", svgJs],
  ["/assets/curate.js", curateJs],
  ["/assets/pages/catalog.js", pagesCatalogJs],
  ["/assets/pages/catalog_params.js", pagesCatalogParamsJs],
  ["/assets/pages/compare.js", pagesCompareJs],
  ["/assets/pages/compare_params.js", pagesCompareParamsJs],
  ["/assets/pages/param_views.js", pagesParamViewsJs],
  ["/assets/pages/scatter.js", pagesScatterJs],
  ["/assets/pages/parallel.js", pagesParallelJs],
  ["/assets/pages/specimen.js", pagesSpecimenJs],
  ["/assets/pages/sql.js", pagesSqlJs],
  ["/assets/pages/tensor.js", pagesTensorJs],
  ["/assets/pages/specimen_run.js", pagesSpecimenRunJs],
  ["/assets/pages/distributions.js", pagesDistributionsJs],
  ["/assets/pages/catalog_results.js", pagesCatalogResultsJs],
]);

/** Every static file by its exact URL path. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ...[...SCRIPT_MODULES].map(([path, body]): [string, Asset] => [
    path,
    { body, type: JS },
  ]),
  ["/assets/app.css", { body: appCss, type: "text/css; charset=utf-8" }],
  ["/assets/uplot.js", {
    body: UPLOT_JS,
    type: "text/javascript; charset=utf-8",
  }],
  ["/assets/uplot.css", { body: UPLOT_CSS, type: "text/css; charset=utf-8" }],
  ["/assets/icon.svg", { body: iconSvg, type: "image/svg+xml" }],
]);
