// The specimen page's first card: how its last run went (status, duration,
// exit code or signal, error, the end of stderr), its params, and the
// versions it ran under. Everything goes in as text.
import { h } from "../dom.js";
import { fmtDate, fmtNum } from "../format.js";

/** Milliseconds as "1 h 02 min", "3 min 05 s", "4.2 s". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  if (m < 60) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** Nested params as [dotted key, value] pairs, in order. */
export function flatParams(params, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(params ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      out.push(...flatParams(v, key));
    } else out.push([key, v]);
  }
  return out;
}

function exitText(run) {
  if (run.signal) return `signal ${run.signal}`;
  if (run.exit_code !== null && run.exit_code !== undefined) {
    return `exit code ${run.exit_code}`;
  }
  return null;
}

function statusLine(s, outcome) {
  const run = outcome.run;
  if (!run) {
    const imported = s.provenance?.imported_from;
    return h(
      "div",
      { class: "run-line", "data-testid": "run-status" },
      h("span", { class: `run-pill ${s.status}` }, s.status ?? ""),
      imported
        ? ` imported from ${imported.tool ?? "another tool"}${
          imported.source_run_id ? ` (${imported.source_run_id})` : ""
        }`
        : " never run: deno task run " + s.specimen_id,
    );
  }
  const duration = run.duration_ms ?? outcome.running_ms;
  return h(
    "div",
    { class: "run-line", "data-testid": "run-status" },
    h("span", { class: `run-pill ${run.status}` }, run.status),
    duration !== null && duration !== undefined
      ? h(
        "span",
        { "data-testid": "run-duration" },
        ` ${fmtDuration(duration)}${run.status === "running" ? " so far" : ""}`,
      )
      : null,
    exitText(run)
      ? h("span", { "data-testid": "run-exit" }, ` · ${exitText(run)}`)
      : null,
    ` · started ${fmtDate(run.started)}`,
    run.via ? ` · ${run.via}` : "",
    outcome.runs > 1 ? ` · run ${outcome.runs} of ${outcome.runs}` : "",
    run.sealed ? " · sealed" : "",
  );
}

function errorLines(run) {
  const errors = [];
  if (run?.error) errors.push(run.error);
  for (const e of run?.execs ?? []) {
    if (e.error && !errors.includes(e.error)) {
      errors.push(`${(e.command ?? []).join(" ")}: ${e.error}`);
    }
  }
  return errors.length
    ? h(
      "div",
      { class: "error", role: "alert", "data-testid": "run-error" },
      errors.map((e) => h("div", {}, e)),
    )
    : null;
}

function stderrTails(outcome) {
  return outcome.stderr.map((t) =>
    h(
      "details",
      {
        class: "stderr",
        open: outcome.run?.status !== "succeeded",
        "data-testid": "stderr-tail",
      },
      h(
        "summary",
        {},
        `stderr of ${t.source}: last ${t.lines.length} line${
          t.lines.length === 1 ? "" : "s"
        }`,
        h("span", { class: "muted" }, ` · ${t.path}`),
      ),
      t.issue
        ? h("p", { class: "muted" }, `not shown: ${t.issue}`)
        : h("pre", { class: "log" }, (t.cut ? "…\n" : "") + t.lines.join("\n")),
    )
  );
}

function paramsTable(s) {
  const params = flatParams(s.manifest?.params);
  const changed = new Set(s.manifest?.params_changed ?? []);
  if (!params.length) {
    return h("p", { class: "muted", "data-testid": "params" }, "No params.");
  }
  return h(
    "table",
    { class: "grid params", "data-testid": "params" },
    h(
      "tbody",
      {},
      params.map(([k, v]) =>
        h(
          "tr",
          { "data-param": k, class: changed.has(k) ? "changed" : "" },
          h("th", {}, k),
          h(
            "td",
            { class: typeof v === "number" ? "num" : "" },
            typeof v === "number" ? fmtNum(v) : JSON.stringify(v),
          ),
        )
      ),
    ),
  );
}

/** The run card: outcome, params and versions, then the stderr tails. */
export function runCard(s, outcome) {
  return h(
    "div",
    { class: "card run", "data-testid": "outcome" },
    h("h2", {}, "Run"),
    statusLine(s, outcome),
    errorLines(outcome.run),
    h(
      "div",
      { class: "run-columns" },
      h("div", {}, h("h3", {}, "Params"), paramsTable(s)),
      h(
        "div",
        {},
        h("h3", {}, "Environment"),
        h(
          "dl",
          { class: "meta", "data-testid": "versions" },
          outcome.versions.map((v) => [
            h("dt", {}, v.name),
            h("dd", { "data-version": v.name }, v.version),
          ]),
          outcome.run?.hostname
            ? [h("dt", {}, "host"), h("dd", {}, outcome.run.hostname)]
            : null,
          outcome.run?.git_commit
            ? [
              h("dt", {}, "git"),
              h(
                "dd",
                {},
                outcome.run.git_commit.slice(0, 12),
                outcome.run.git_dirty ? " (dirty)" : "",
              ),
            ]
            : null,
        ),
      ),
    ),
    stderrTails(outcome),
  );
}
