// The SQL console: read-only queries, results table, CSV download.
import { errorBox, h, main } from "../dom.js";
import { api } from "../api.js";
import { cellText, nf } from "../format.js";

const EXAMPLES = [
  [
    "Specimens per method",
    "SELECT domain, method, count(*) AS specimens\nFROM catalog\nGROUP BY ALL\nORDER BY specimens DESC",
  ],
  [
    "Final loss per specimen",
    "SELECT specimen_id, arg_max(loss, step) AS final_loss, max(step) AS steps\nFROM metrics\nGROUP BY specimen_id\nORDER BY final_loss",
  ],
  [
    "Tensors",
    "SELECT specimen_id, name, shape, dtype, bytes\nFROM tensors\nORDER BY bytes DESC",
  ],
];

export function sqlPage() {
  const editor = h("textarea", {
    class: "sql",
    spellcheck: "false",
    "aria-label": "SQL",
    "data-testid": "sql",
  });
  editor.value = localStorage.getItem("sv.sql") ??
    "SELECT specimen_id, created, domain, method, model, tags\nFROM catalog\nORDER BY created DESC\nLIMIT 100";
  const status = h("span", { class: "muted", "data-testid": "sql-status" });
  const out = h("div", {});
  const run = async () => {
    localStorage.setItem("sv.sql", editor.value);
    status.textContent = "running…";
    out.replaceChildren();
    let r;
    try {
      r = await api("/api/sql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: editor.value }),
      });
    } catch (e) {
      status.textContent = "";
      out.replaceChildren(errorBox(e));
      return;
    }
    const shown = r.rows.slice(0, 1000);
    status.textContent = `${nf.format(r.rows.length)} row${
      r.rows.length === 1 ? "" : "s"
    }${
      r.truncated ? ` (stopped at the ${nf.format(r.row_limit)}-row limit)` : ""
    } in ${r.ms.toFixed(1)} ms${
      shown.length < r.rows.length
        ? `; showing the first ${nf.format(shown.length)}`
        : ""
    }`;
    out.replaceChildren(
      h(
        "div",
        { class: "result-wrap" },
        h(
          "table",
          { class: "grid", "data-testid": "sql-result" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              r.columns.map((c) => h("th", { title: c.type }, c.name)),
            ),
          ),
          h(
            "tbody",
            {},
            shown.map((row) =>
              h(
                "tr",
                {},
                row.map((v) =>
                  h(
                    "td",
                    { class: typeof v === "number" ? "num" : "" },
                    cellText(v),
                  )
                ),
              )
            ),
          ),
        ),
      ),
    );
  };
  const download = async () => {
    status.textContent = "preparing CSV…";
    try {
      const res = await fetch("/api/sql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: editor.value, format: "csv" }),
      });
      if (!res.ok) throw new Error((await res.json()).error);
      const blob = await res.blob();
      const a = h("a", {
        href: URL.createObjectURL(blob),
        download: "query.csv",
      });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      status.textContent = res.headers.get("x-truncated") === "true"
        ? `CSV stopped at the ${
          nf.format(Number(res.headers.get("x-row-limit")))
        }-row limit`
        : "CSV downloaded";
    } catch (e) {
      status.textContent = "";
      out.replaceChildren(errorBox(e));
    }
  };
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  main.replaceChildren(
    h(
      "div",
      { class: "card" },
      h("h1", {}, "SQL"),
      h(
        "p",
        { class: "muted" },
        "Read-only DuckDB SQL on the catalog: catalog, metrics, exp_<id>, metric_tables, tensors, params (specimen_id, key, value, num: one row per param). Queries stop at the time and row limits; writes and file access are refused.",
      ),
      h(
        "div",
        { class: "toolbar" },
        "Examples:",
        EXAMPLES.map(([label, q]) =>
          h("button", {
            onclick: () => {
              editor.value = q;
              run();
            },
          }, label)
        ),
      ),
      editor,
      h(
        "div",
        { class: "toolbar" },
        h("button", {
          class: "primary",
          onclick: run,
          "data-testid": "run-sql",
        }, "Run (Ctrl+Enter)"),
        h(
          "button",
          { onclick: download, "data-testid": "download-csv" },
          "Download CSV",
        ),
        status,
      ),
      out,
    ),
  );
  editor.focus();
}
