/**
 * Private: Optuna studies read from its two file storages into one model of
 * trials: RDB storage in SQLite (through Deno's built-in `node:sqlite`,
 * opened read-only) and JournalStorage (JSON lines of operations, replayed
 * in order as `optuna/storages/journal/_storage.py` does).
 *
 * @module
 */
import { CorruptFileError, UnsupportedFormatError } from "../errors.ts";
import { parsePythonJson } from "../formats/python_json.ts";
import { DatabaseSync } from "./_deps.ts";

/** One trial as the storage holds it (params still internal). */
export interface OptunaTrial {
  study: string;
  directions: string[];
  /** The storage's trial id (unique in the file). */
  trialId: number;
  /** The trial's number in its study. */
  number: number;
  state: string;
  /** As the storage wrote it (RDB: naive local time; journal: ISO with zone). */
  datetimeStart: string | null;
  datetimeComplete: string | null;
  params: { name: string; internal: number; distribution: string }[];
  /** One per objective; null for a trial that has none. */
  values: number[] | null;
  /** step → value, in the order set. */
  intermediate: Map<number, number>;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
}

/** A study file read: its trials and the Optuna version where it says. */
export interface OptunaFile {
  format: "sqlite" | "journal";
  version: string | null;
  studies: string[];
  trials: OptunaTrial[];
  /** Problems read past (a partial last journal line). */
  warnings: string[];
}

const STATES = ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"];
const DIRECTIONS = ["NOT_SET", "MINIMIZE", "MAXIMIZE"];

/** Whether `bytes` start as an SQLite database does. */
export function isSqlite(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, 16)) ===
    "SQLite format 3\u0000";
}

/** Reads an Optuna RDB storage file. Needs read permission. */
export function readOptunaSqlite(path: string): OptunaFile {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = new Set(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
        .map((r) => String(r.name)),
    );
    for (const t of ["studies", "trials", "trial_params", "trial_values"]) {
      if (!tables.has(t)) {
        throw new UnsupportedFormatError(
          `"${path}" is an SQLite database but not an Optuna study: it has no "${t}" table (Optuna's RDB storage has studies, trials, trial_params, trial_values, …)`,
        );
      }
    }
    const version = tables.has("version_info")
      ? String(
        db.prepare("SELECT library_version FROM version_info").get()
          ?.library_version ?? "",
      ) || null
      : null;
    const studies = new Map<number, { name: string; directions: string[] }>();
    for (
      const r of db.prepare("SELECT study_id, study_name FROM studies").all()
    ) {
      studies.set(Number(r.study_id), {
        name: String(r.study_name),
        directions: [],
      });
    }
    if (tables.has("study_directions")) {
      for (
        const r of db.prepare(
          "SELECT study_id, direction FROM study_directions ORDER BY study_id, objective",
        ).all()
      ) studies.get(Number(r.study_id))?.directions.push(String(r.direction));
    }
    const trials = new Map<number, OptunaTrial>();
    for (
      const r of db.prepare(
        "SELECT trial_id, number, study_id, state, datetime_start, datetime_complete FROM trials ORDER BY study_id, number",
      ).all()
    ) {
      const s = studies.get(Number(r.study_id));
      trials.set(Number(r.trial_id), {
        study: s?.name ?? `study ${r.study_id}`,
        directions: s?.directions ?? [],
        trialId: Number(r.trial_id),
        number: Number(r.number),
        state: String(r.state),
        datetimeStart: r.datetime_start === null
          ? null
          : String(r.datetime_start),
        datetimeComplete: r.datetime_complete === null
          ? null
          : String(r.datetime_complete),
        params: [],
        values: null,
        intermediate: new Map(),
        userAttrs: {},
        systemAttrs: {},
      });
    }
    for (
      const r of db.prepare(
        "SELECT trial_id, param_name, param_value, distribution_json FROM trial_params ORDER BY param_id",
      ).all()
    ) {
      trials.get(Number(r.trial_id))?.params.push({
        name: String(r.param_name),
        internal: Number(r.param_value),
        distribution: String(r.distribution_json),
      });
    }
    for (
      const r of db.prepare(
        "SELECT trial_id, objective, value, value_type FROM trial_values ORDER BY trial_id, objective",
      ).all()
    ) {
      const t = trials.get(Number(r.trial_id));
      if (t) (t.values ??= []).push(typedFloat(r.value, r.value_type));
    }
    if (tables.has("trial_intermediate_values")) {
      for (
        const r of db.prepare(
          "SELECT trial_id, step, intermediate_value, intermediate_value_type FROM trial_intermediate_values ORDER BY trial_intermediate_value_id",
        ).all()
      ) {
        trials.get(Number(r.trial_id))?.intermediate.set(
          Number(r.step),
          typedFloat(r.intermediate_value, r.intermediate_value_type),
        );
      }
    }
    for (
      const [table, field] of [
        ["trial_user_attributes", "userAttrs"],
        ["trial_system_attributes", "systemAttrs"],
      ] as const
    ) {
      if (!tables.has(table)) continue;
      for (
        const r of db.prepare(
          `SELECT trial_id, "key", value_json FROM ${table} ORDER BY 1`,
        ).all()
      ) {
        const t = trials.get(Number(r.trial_id));
        if (t) t[field][String(r.key)] = parsePythonJson(String(r.value_json));
      }
    }
    return {
      format: "sqlite",
      version,
      warnings: [],
      studies: [...studies.values()].map((s) => s.name),
      trials: [...trials.values()],
    };
  } finally {
    db.close();
  }
}

/** RDB storage keeps ±inf (and NaN) as NULL plus a type. */
function typedFloat(value: unknown, type: unknown): number {
  switch (String(type)) {
    case "INF_POS":
      return Infinity;
    case "INF_NEG":
      return -Infinity;
    case "NAN":
      return NaN;
    default:
      return value === null ? NaN : Number(value);
  }
}

/**
 * Replays a JournalStorage file. Operations on a finished trial, or an
 * unknown one, are ignored as Optuna ignores them; an unknown op code is
 * refused.
 */
export function readOptunaJournal(text: string, path: string): OptunaFile {
  const studies: { name: string; directions: string[]; alive: boolean }[] = [];
  const trials: OptunaTrial[] = [];
  const studyTrials = new Map<number, number>();
  const lines = text.split("\n");
  const warnings: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    let op: Record<string, unknown>;
    try {
      op = parsePythonJson(line) as Record<string, unknown>;
    } catch (e) {
      if (i === lines.length - 1) {
        // A process killed mid-write leaves a last line without its newline.
        warnings.push(
          `"${path}" ends in a partial line (${line.length} bytes, no newline), as a process killed mid-write leaves it: every operation before it was replayed`,
        );
        break;
      }
      throw new CorruptFileError(
        `"${path}" line ${i + 1} is not JSON (${
          (e as Error).message
        }): an Optuna journal holds one JSON operation per line`,
        { cause: e },
      );
    }
    const code = op.op_code;
    const trial = typeof op.trial_id === "number"
      ? trials[op.trial_id]
      : undefined;
    const open = trial !== undefined && !isFinished(trial.state);
    switch (code) {
      case 0:
        if (!studies.some((s) => s.name === op.study_name)) {
          studies.push({
            name: String(op.study_name),
            directions: (op.directions as number[]).map((d) =>
              DIRECTIONS[d] ?? String(d)
            ),
            alive: true,
          });
        }
        break;
      case 1: {
        const s = studies[op.study_id as number];
        if (s) s.alive = false;
        break;
      }
      case 2:
      case 3:
      case 10:
        break;
      case 4: {
        const sid = op.study_id as number;
        const s = studies[sid];
        if (!s?.alive) break;
        const number = studyTrials.get(sid) ?? 0;
        studyTrials.set(sid, number + 1);
        const dists = (op.distributions ?? {}) as Record<string, string>;
        const iv = (op.intermediate_values ?? {}) as Record<string, number>;
        trials.push({
          study: s.name,
          directions: s.directions,
          trialId: trials.length,
          number,
          state: STATES[(op.state as number | undefined) ?? 0] ??
            String(op.state),
          datetimeStart: (op.datetime_start as string | null) ?? null,
          datetimeComplete: (op.datetime_complete as string | undefined) ??
            null,
          params: Object.entries((op.params ?? {}) as Record<string, number>)
            .map((
              [name, internal],
            ) => ({ name, internal, distribution: dists[name] })),
          values: (op.values as number[] | undefined) ?? null,
          intermediate: new Map(
            Object.entries(iv).map(([k, v]) => [Number(k), v]),
          ),
          userAttrs: { ...(op.user_attrs as object ?? {}) },
          systemAttrs: { ...(op.system_attrs as object ?? {}) },
        });
        break;
      }
      case 5:
        if (open) {
          trial.params = trial.params.filter((p) => p.name !== op.param_name);
          trial.params.push({
            name: String(op.param_name),
            internal: op.param_value_internal as number,
            distribution: String(op.distribution),
          });
        }
        break;
      case 6:
        if (open) {
          const state = STATES[op.state as number] ?? String(op.state);
          if (state === "RUNNING") {
            trial.datetimeStart = (op.datetime_start as string) ??
              trial.datetimeStart;
          }
          if (isFinished(state)) {
            trial.datetimeComplete = (op.datetime_complete as string) ?? null;
          }
          trial.state = state;
          if (op.values !== null && op.values !== undefined) {
            trial.values = op.values as number[];
          }
        }
        break;
      case 7:
        if (open) {
          trial.intermediate.set(
            op.step as number,
            op.intermediate_value as number,
          );
        }
        break;
      case 8:
        if (open) Object.assign(trial.userAttrs, op.user_attr as object);
        break;
      case 9:
        if (open) Object.assign(trial.systemAttrs, op.system_attr as object);
        break;
      default:
        throw new UnsupportedFormatError(
          `"${path}" line ${i + 1} has op_code ${
            JSON.stringify(code)
          }, which this reader does not know (Optuna's journal op codes are 0–10); is it an Optuna journal of a newer version?`,
        );
    }
  }
  return {
    format: "journal",
    version: null,
    warnings,
    studies: studies.filter((s) => s.alive).map((s) => s.name),
    trials: trials.filter((t) =>
      studies.find((s) => s.name === t.study)?.alive
    ),
  };
}

function isFinished(state: string): boolean {
  return state === "COMPLETE" || state === "PRUNED" || state === "FAIL";
}
