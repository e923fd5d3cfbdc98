/**
 * The Optuna importer against the studies Optuna 5.0 wrote itself
 * (`tests/testdata/interop/trackers2/optuna/`), compared with
 * `study.trials_dataframe()` of each (trials_rdb.csv, trials_journal.csv)
 * exactly; a journal cut mid-trial (the trial kept RUNNING); `--study`; and
 * `deno task import optuna` as a subprocess.
 */
import { join } from "../lib/_deps.ts";
import { parseCsv } from "../lib/importers/_deps.ts";
import { columnToArray } from "../lib/importers/model.ts";
import type { ImportedRun } from "../lib/importers/model.ts";
import { importOptuna } from "../lib/importers/optuna.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { importCli } from "./_import.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  INTEROP,
  tempDir,
  tempVault,
} from "./utils.ts";

const OPTUNA = join(INTEROP, "trackers2", "optuna");

async function truth(name: string): Promise<Record<string, string>[]> {
  return parseCsv(await Deno.readTextFile(join(OPTUNA, name)), {
    columns: true,
  });
}

/** Optuna's journal datetimes are UTC with a zone; the dataframe shows them naive. */
function naive(text: string | null): string | null {
  return text === null ? null : text.replace("T", " ").replace(/\+00:00$/, "");
}

function checkAgainst(runs: ImportedRun[], rows: Record<string, string>[]) {
  assertEquals(runs.length, rows.length);
  for (const [i, row] of rows.entries()) {
    const run = runs[i];
    const info = run.sourceInfo as Record<string, unknown>;
    assertEquals(info.number, Number(row.number));
    assertEquals(info.state, row.state);
    assertEquals((info.values as number[])[0], Number(row.value));
    assertEquals(naive(info.datetime_start as string), row.datetime_start);
    assertEquals(
      naive(info.datetime_complete as string),
      row.datetime_complete,
    );
    assertEquals(run.params.lr, Number(row.params_lr));
    assertEquals(run.params.layers, Number(row.params_layers));
    assert(Number.isInteger(run.params.layers));
    assertEquals(run.params.opt, row.params_opt);
    assertEquals(
      (info.user_attrs as Record<string, unknown>).note,
      row.user_attrs_note,
    );
    const t = run.tables[0];
    assertEquals(t.name, "intermediate");
    assertEquals(Array.from(t.step), [0, 1, 2, 3, 4]);
    // The objective returns its last reported value.
    assertEquals(columnToArray(t.columns.get("value")!)[4], Number(row.value));
  }
}

Deno.test("importOptuna() reads the SQLite study as trials_dataframe() shows it, trial by trial", async () => {
  const runs = await importOptuna(join(OPTUNA, "optuna.db"));
  checkAgainst(runs, await truth("trials_rdb.csv"));
  assertEquals(runs[0].toolVersion, "5.0.0");
  assertEquals(runs[0].tags["optuna.study"], "study_rdb");
  const d = (runs[0].sourceInfo.distributions as Record<string, unknown>).opt;
  assertEquals(d, {
    name: "CategoricalDistribution",
    attributes: { choices: ["adam", "sgd"] },
  });
});

Deno.test("importOptuna() replays the journal into the same trials as trials_dataframe()", async () => {
  const runs = await importOptuna(join(OPTUNA, "optuna_journal.log"));
  checkAgainst(runs, await truth("trials_journal.csv"));
  assertEquals(runs.every((r) => r.warnings.length === 0), true);
});

Deno.test("a journal cut mid-trial keeps the unfinished trial as RUNNING, and a partial last line is named", async () => {
  const text = await Deno.readTextFile(join(OPTUNA, "optuna_journal.log"));
  const lines = text.split("\n");
  // The 3rd trial's create (op 4) and a few of its params, then half a line.
  let creates = 0, cut = 0;
  for (const [i, l] of lines.entries()) {
    if (l.includes('"op_code":4')) creates++;
    if (creates === 3) {
      cut = i + 3;
      break;
    }
  }
  await using dir = await tempDir();
  const f = join(dir.path, "journal.log");
  await Deno.writeTextFile(
    f,
    lines.slice(0, cut).join("\n") + "\n" + lines[cut].slice(0, 30),
  );
  const runs = await importOptuna(f);
  assertEquals(runs.length, 3);
  assertEquals(runs.map((r) => r.sourceInfo.state), [
    "COMPLETE",
    "COMPLETE",
    "RUNNING",
  ]);
  assertEquals(runs[2].sourceInfo.values, null);
  assertEquals(runs[2].endTime, null);
  assert(runs[2].warnings.some((w) => /partial line/.test(w)));
});

Deno.test("importOptuna() --study picks one study and names the studies when it is not there", async () => {
  const runs = await importOptuna(join(OPTUNA, "optuna.db"), {
    study: "study_rdb",
  });
  assertEquals(runs.length, 20);
  await assertRejects(
    () => importOptuna(join(OPTUNA, "optuna.db"), { study: "nope" }),
    Error,
    'No study "nope"',
  );
});

Deno.test("deno task import optuna makes one specimen per trial, with state, values and times in the manifest", async () => {
  await using vault = await tempVault();
  await using dir = await tempDir();
  // The task gets read and write permission on the vault only through
  // deno.json's flags; the study is copied so the test needs nothing else.
  const db = join(dir.path, "optuna.db");
  await Deno.copyFile(join(OPTUNA, "optuna.db"), db);
  const args = ["optuna", db, "--prefix", "hpo_", "--vault", vault.path];
  const r = await importCli(args);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /imported study_rdb\/19 → hpo_study_rdb_trial_19/);
  const rows = await truth("trials_rdb.csv");
  const m = await readManifest(join(vault.specimens, "hpo_study_rdb_trial_7"));
  assertEquals(m.params?.opt, rows[7].params_opt);
  const from = (m.provenance as Record<string, unknown>)
    .imported_from as Record<
      string,
      unknown
    >;
  const info = from.source_info as Record<string, unknown>;
  assertEquals(info.state, "COMPLETE");
  assertEquals(info.datetime_start, rows[7].datetime_start);
  assertEquals(
    m.runs?.[0].started,
    new Date(rows[7].datetime_start.replace(" ", "T") + "Z").toISOString(),
  );
  const again = await importCli(args);
  assertEquals(again.code, 0, again.stderr);
  assertMatch(
    again.stdout,
    /skipped study_rdb\/7: already imported as hpo_study_rdb_trial_7/,
  );
});

const EDGE = join(INTEROP, "trackers2", "optuna_edge");

/** A dataframe cell as Optuna's value: "" is None/NaN, "inf" is +inf. */
function cell(text: string): unknown {
  if (text === "") return null;
  if (text === "True" || text === "False") return text === "True";
  if (text === "inf") return Infinity;
  const n = Number(text);
  return Number.isNaN(n) ? text : n;
}

for (
  const [file, tag] of [["edge.db", "rdb"], ["edge_journal.log", "journal"]]
) {
  Deno.test(`importOptuna() keeps pruned, failed and running trials, +inf and mixed categoricals as trials_dataframe() shows them (${tag})`, async () => {
    const runs = await importOptuna(join(EDGE, file), { study: "edge" });
    const rows = parseCsv(
      await Deno.readTextFile(join(EDGE, `trials_edge_${tag}.csv`)),
      { columns: true },
    ) as Record<string, string>[];
    assertEquals(runs.length, rows.length);
    for (const [i, row] of rows.entries()) {
      const run = runs[i];
      const info = run.sourceInfo as Record<string, unknown>;
      assertEquals(info.state, row.state, `trial ${i}`);
      const value = cell(row.value);
      if (value === null) assertEquals(info.values, null);
      else if (value === Infinity) {
        assertEquals(info.values, [null]);
        assertEquals(info.value_types, ["INF_POS"]);
      } else assertEquals((info.values as number[])[0], value);
      for (const p of ["x", "n", "c"]) {
        const expected = cell(row[`params_${p}`]);
        if (row.state === "RUNNING" && expected === null) {
          assertEquals(p in run.params, false);
        } else assertEquals(run.params[p], expected, `trial ${i} ${p}`);
      }
      assertEquals(naive(info.datetime_start as string), row.datetime_start);
      assertEquals(
        naive(info.datetime_complete as string | null) ?? "",
        row.datetime_complete,
      );
      if (row.state !== "RUNNING") {
        const meta = (info.user_attrs as Record<string, unknown>).meta;
        assertEquals(meta, { n: run.params.n, tags: ["a", "b"] });
      }
    }
    // Pruned trials keep the values they reported before pruning.
    assertEquals(runs[2].tables[0].rows, 2);
    assertEquals(runs[3].tables.length, 0);
  });
}

Deno.test("importOptuna() reads a two-objective study's values in objective order", async () => {
  for (
    const [file, tag] of [["edge.db", "rdb"], ["edge_journal.log", "journal"]]
  ) {
    const runs = await importOptuna(join(EDGE, file), { study: "pareto" });
    const rows = parseCsv(
      await Deno.readTextFile(join(EDGE, `trials_pareto_${tag}.csv`)),
      { columns: true },
    ) as Record<string, string>[];
    assertEquals(
      runs.map((r) => r.sourceInfo.values),
      rows.map((r) => [Number(r.values_0), Number(r.values_1)]),
    );
    assertEquals(runs[0].sourceInfo.directions, ["MINIMIZE", "MAXIMIZE"]);
  }
});

Deno.test("deno task import optuna records a failed trial's run as failed and a running one as interrupted", async () => {
  await using vault = await tempVault();
  await using dir = await tempDir();
  const db = join(dir.path, "edge.db");
  await Deno.copyFile(join(EDGE, "edge.db"), db);
  const r = await importCli([
    "optuna",
    db,
    "--study",
    "edge",
    "--vault",
    vault.path,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const failed = await readManifest(
    join(vault.specimens, "optuna_edge_trial_3"),
  );
  assertEquals(failed.runs?.[0].status, "failed");
  assert(failed.tags.includes("FAIL"));
  const running = await readManifest(
    join(vault.specimens, "optuna_edge_trial_8"),
  );
  assertEquals(running.runs?.[0].status, "interrupted");
});
