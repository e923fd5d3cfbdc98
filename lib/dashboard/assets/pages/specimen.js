// The specimen page: the run's outcome and params first, then its curves
// (results before the run's system metrics), distributions, tensors, field
// notes, manifest. It follows the catalog: when the server re-indexes (a
// running specimen's log parts land), the run card and curves refresh.
import { h, main, tagList } from "../dom.js";
import { api, curveUrl } from "../api.js";
import { cellText, fmtBytes, fmtDate, nf } from "../format.js";
import { noCatalogOr, picked, savePicked, setHash } from "../nav.js";
import { ChartGroup, chartToolbar } from "../plot.js";
import { tensorCard } from "./tensor.js";
import { runCard } from "./specimen_run.js";
import { distributionsCard } from "./distributions.js";
import { onCatalogChange } from "../live.js";

// Columns that are clocks or running totals, not curves worth drawing by
// default (each can still be ticked on).
const NOT_CURVES =
  /^(time|timestamp|wall_time|seconds|elapsed(_s|_seconds)?|epoch_time|mem_total_bytes)$|(^|_)(total|cumulative)(_|$)|_seconds_total$/;

/** The run's own tables (system metrics) last; the rest in catalog order. */
function orderTables(tables) {
  return [...tables].sort((a, b) =>
    Number(a.name === "system") - Number(b.name === "system")
  );
}

/** An imported histograms table (drawn as distributions, not curves). */
function isHistograms(t) {
  return t.name === "histograms" &&
    (t.columns ?? []).some((c) => c.name === "tensor");
}

export async function specimenPage(id) {
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let d;
  try {
    d = await api(`/api/specimens/${encodeURIComponent(id)}`);
  } catch (e) {
    main.replaceChildren(h("h1", {}, id), noCatalogOr(e));
    return;
  }
  const s = d.specimen;
  const header = h(
    "div",
    { class: "card" },
    h("h1", { "data-testid": "specimen-id" }, s.specimen_id),
    h(
      "div",
      { class: "muted" },
      `${s.domain} / ${s.method}`,
      s.model ? ` · ${s.model}` : "",
      ` · ${s.status} · created ${fmtDate(s.created)}`,
    ),
    h(
      "div",
      {},
      tagList(
        s,
        (t) =>
          h("a", { class: "tag", href: `#/?tag=${encodeURIComponent(t)}` }, t),
      ),
    ),
    s.description ? h("p", {}, s.description) : null,
    s.issues?.length
      ? h(
        "div",
        { class: "banner" },
        h("strong", {}, "Indexing issues: "),
        h("ul", {}, s.issues.map((i) => h("li", {}, i))),
      )
      : null,
    h(
      "div",
      { class: "toolbar" },
      h("button", {
        onclick: () => {
          picked.add(s.specimen_id);
          savePicked();
          setHash(
            "/compare",
            new URLSearchParams({ ids: [...picked].join(",") }),
          );
        },
      }, "Add to compare"),
    ),
  );
  let run = runCard(s, d.outcome);
  main.replaceChildren(header, run);
  const groups = [];

  // Metrics: one chart per column, a shared zoom.
  for (const t of orderTables(d.metric_tables)) {
    if (isHistograms(t)) {
      main.append(distributionsCard(s.specimen_id));
      continue;
    }
    if (t.name === "texts") continue;
    const numeric = (t.columns ?? []).filter((c) =>
      c.name !== "step" && /INT|FLOAT|DOUBLE|DECIMAL/.test(c.type)
    ).map((c) => c.name);
    const card = h(
      "div",
      { class: "card", "data-table": t.name },
      h(
        "h2",
        {},
        t.name === "system"
          ? "System metrics of the run "
          : `Metrics: ${t.name} `,
        h(
          "span",
          { class: "muted", "data-testid": "table-rows" },
          `${nf.format(t.rows)} rows`,
        ),
      ),
    );
    main.append(card);
    if (t.issue) card.append(h("div", { class: "banner" }, t.issue));
    if (!numeric.length || !(t.columns ?? []).some((c) => c.name === "step")) {
      card.append(
        h(
          "p",
          { class: "muted" },
          "No numeric columns against a step column to draw.",
        ),
      );
      continue;
    }
    const shown = new Set(
      numeric.filter((c) => !NOT_CURVES.test(c)).slice(0, 8),
    );
    const chartsEl = h("div", { class: "charts" });
    const group = new ChartGroup(chartsEl, async (range, width) => {
      const cols = numeric.filter((c) => shown.has(c));
      if (!cols.length) return [];
      const r = await api(
        curveUrl({
          ids: [s.specimen_id],
          columns: cols,
          table: t.name,
          range,
          width,
        }),
      );
      return cols.map((c) => ({
        title: c,
        series: r.series.filter((x) => x.column === c).map((x) => ({
          ...x,
          label: c,
        })),
      })).filter((c) => c.series.length);
    });
    const toggles = h(
      "span",
      {},
      numeric.map((c) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            checked: shown.has(c),
            "data-metric": c,
            onchange: (e) => {
              if (e.target.checked) shown.add(c);
              else shown.delete(c);
              group.reload();
            },
          }),
          c,
        )
      ),
    );
    card.append(chartToolbar(group, [toggles]), chartsEl);
    group.reload(null);
    groups.push({ table: t.name, card, group });
  }

  if (d.tensors.length) main.append(tensorCard(s.specimen_id, d.tensors));
  if (d.files?.length) main.append(filesCard(d.files));

  if (d.notes_html !== null) {
    const notes = h("div", { class: "notes", "data-testid": "notes" });
    notes.innerHTML = d.notes_html; // rendered and sanitized by the server
    main.append(h("div", { class: "card" }, h("h2", {}, "Field notes"), notes));
  }

  const prov = s.provenance ?? {};
  main.append(
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Manifest and provenance"),
      h(
        "dl",
        { class: "meta" },
        h("dt", {}, "path"),
        h("dd", {}, s.path),
        h("dt", {}, "dependencies"),
        h(
          "dd",
          {},
          Object.entries(s.dependencies ?? {}).map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none",
        ),
        prov.git ? [h("dt", {}, "git"), h("dd", {}, cellText(prov.git))] : null,
        prov.runtime
          ? [h("dt", {}, "runtime"), h("dd", {}, cellText(prov.runtime))]
          : null,
        h("dt", {}, "indexed"),
        h("dd", {}, fmtDate(s.indexed_at)),
        d.origin
          ? [
            h("dt", {}, "pulled from"),
            h(
              "dd",
              { "data-testid": "origin" },
              `${d.origin.remote} (${d.origin.url}), ${
                fmtDate(d.origin.pulled_at)
              }`,
            ),
          ]
          : null,
      ),
      h(
        "details",
        {},
        h("summary", {}, "provenance"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.provenance ?? null, null, 2),
        ),
      ),
      h(
        "details",
        {},
        h("summary", {}, "artifacts"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.artifacts ?? null, null, 2),
        ),
      ),
      h(
        "details",
        {},
        h("summary", {}, "manifest"),
        h(
          "pre",
          { class: "json" },
          JSON.stringify(s.manifest ?? null, null, 2),
        ),
      ),
    ),
  );

  // A new catalog: the run card again, the curves grown (in the zoom kept),
  // the row counts; a new metric table redraws the page.
  const tables = (x) => x.metric_tables.map((t) => t.name).sort().join(",");
  onCatalogChange(async () => {
    let next;
    try {
      next = await api(`/api/specimens/${encodeURIComponent(id)}`);
    } catch {
      return;
    }
    if (tables(next) !== tables(d)) return await specimenPage(id);
    // Another specimen changed: nothing to redraw here.
    const seen = (x) => JSON.stringify([x.metric_tables, x.outcome.run]);
    if (seen(next) === seen(d)) return;
    d = next;
    const fresh = runCard(next.specimen, next.outcome);
    run.replaceWith(fresh);
    run = fresh;
    for (const g of groups) {
      const t = next.metric_tables.find((x) => x.name === g.table);
      const rows = g.card.querySelector('[data-testid="table-rows"]');
      if (t && rows) rows.textContent = `${nf.format(t.rows)} rows`;
      g.group.reload();
    }
  });
}

// Kept files (strata/files/): images embedded with <img> (an SVG's scripts
// never run there; the server also sandboxes every file by CSP), the rest
// listed with a download link.
function filesCard(files) {
  const images = files.filter((f) => f.image);
  const others = files.filter((f) => !f.image);
  const caption = (f) =>
    `${f.name} · ${f.media_type} · ${fmtBytes(f.bytes)}${
      f.source && f.source !== f.name ? ` · from ${f.source}` : ""
    }`;
  return h(
    "div",
    { class: "card", "data-testid": "files" },
    h("h2", {}, "Files"),
    images.length
      ? h(
        "div",
        { class: "gallery" },
        images.map((f) =>
          h(
            "figure",
            { "data-file": f.name },
            h(
              "a",
              { href: f.url, target: "_blank", rel: "noopener" },
              h("img", { src: f.url, alt: f.name, loading: "lazy" }),
            ),
            h("figcaption", { class: "muted" }, caption(f)),
          )
        ),
      )
      : null,
    others.length
      ? h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["name", "from", "media type", "size", "SHA-256", ""].map((c) =>
              h("th", {}, c)
            ),
          ),
        ),
        h(
          "tbody",
          {},
          others.map((f) =>
            h(
              "tr",
              { "data-file": f.name },
              h("td", {}, f.name),
              h("td", {}, f.source ?? ""),
              h("td", {}, f.media_type),
              h("td", { class: "num" }, fmtBytes(f.bytes)),
              h("td", { title: f.sha256 ?? "" }, (f.sha256 ?? "").slice(0, 12)),
              h(
                "td",
                {},
                h("a", { href: f.url, download: f.name }, "download"),
              ),
            )
          ),
        ),
      )
      : null,
  );
}
