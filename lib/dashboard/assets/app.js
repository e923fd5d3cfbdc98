// The dashboard's browser side: hash routes for the catalog, a specimen,
// compare, the params' scatter and parallel coordinates, and the SQL console. Every value from the vault is put in the page
// as text (never as HTML), except field notes, which the server renders and
// sanitizes. This module is the router; each page is a module of its own
// under pages/, served as it is (native ES modules, no build step).
import { clearCatalogChange, refreshStatus } from "./live.js";
import { parseHash, route, setRouter } from "./nav.js";
import { catalogPage } from "./pages/catalog.js";
import { specimenPage } from "./pages/specimen.js";
import { comparePage } from "./pages/compare.js";
import { sqlPage } from "./pages/sql.js";
import { scatterPage } from "./pages/scatter.js";
import { parallelPage } from "./pages/parallel.js";
import { curateCatalog, curateSpecimen } from "./curate.js";

const SECTIONS = ["compare", "scatter", "parallel", "sql"];

async function showPage() {
  const { path, params } = parseHash();
  const section = path.startsWith("/s/")
    ? ""
    : SECTIONS.find((name) => path.startsWith(`/${name}`)) ?? "catalog";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === section);
  }
  clearCatalogChange();
  refreshStatus(document.getElementById("status"));
  if (path.startsWith("/s/")) {
    const id = decodeURIComponent(path.slice(3));
    document.title = `${id} · Specimen Vault`;
    await specimenPage(id);
    return await curateSpecimen(id);
  }
  document.title = "Specimen Vault";
  if (section === "compare") return await comparePage(params);
  if (section === "scatter") return await scatterPage(params);
  if (section === "parallel") return await parallelPage(params);
  if (section === "sql") return sqlPage();
  await catalogPage(params);
  return await curateCatalog();
}

setRouter(showPage);
addEventListener("hashchange", () => route());
route();
