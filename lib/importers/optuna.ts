/**
 * Reads Optuna studies (RDB storage in SQLite, or a JournalStorage file):
 * each trial becomes one run, so a study is a sweep. A trial's params are
 * decoded from their distributions (a categorical's stored index into
 * `choices` becomes the choice), its intermediate values are an
 * `intermediate` table by step, and its number, state, values, datetimes,
 * user and system attributes go to `sourceInfo`. Pruned, failed and running
 * trials are kept with their state.
 *
 * @module
 */
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { parsePythonJson } from "../formats/python_json.ts";
import { basename, createHash } from "./_deps.ts";
import {
  isSqlite,
  type OptunaFile,
  type OptunaTrial,
  readOptunaJournal,
  readOptunaSqlite,
} from "./_optuna_storage.ts";
import { toParamValue } from "./_param_values.ts";
import {
  emptyRun,
  type ImportedRun,
  type ParamValue,
  readSourceFile,
} from "./model.ts";

/** Options of {@linkcode importOptuna}. */
export interface OptunaOptions {
  /** Import only the study of this name. @default every study in the file */
  study?: string;
}

/**
 * Reads every trial of the studies in an Optuna storage file. Needs read
 * permission.
 *
 * @param path An SQLite file (`sqlite:///path`'s path) or a journal file.
 * @returns One run per trial, by study then number.
 * @throws {NotFoundError} `--study` names no study in the file.
 * @throws {UnsupportedFormatError} An SQLite file without Optuna's tables,
 * or a journal operation this reader does not know.
 * @throws {CorruptFileError} A journal line that is not JSON.
 * @example
 * ```ts
 * import { importOptuna } from "./optuna.ts";
 * const f = await Deno.makeTempFile();
 * await Deno.writeTextFile(f, '{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}\n');
 * console.assert((await importOptuna(f)).length === 0);
 * await Deno.remove(f);
 * ```
 */
export async function importOptuna(
  path: string,
  options: OptunaOptions = {},
): Promise<ImportedRun[]> {
  const { bytes, file } = await readSourceFile(path, basename(path));
  const study: OptunaFile = isSqlite(bytes)
    ? readOptunaSqlite(path)
    : readOptunaJournal(new TextDecoder().decode(bytes), path);
  if (options.study !== undefined && !study.studies.includes(options.study)) {
    throw new NotFoundError(
      `No study "${options.study}" in "${path}": it holds ${
        study.studies.length
          ? study.studies.map((s) => JSON.stringify(s)).join(", ")
          : "no study"
      }; pass one of them to --study`,
    );
  }
  const runs: ImportedRun[] = [];
  for (const t of study.trials) {
    if (options.study !== undefined && t.study !== options.study) continue;
    const run = trialRun(t, path, study);
    run.sourceFiles.push(file, {
      // The file is shared by every trial: this entry makes each trial's
      // source digest its own, so a re-import finds each trial's specimen.
      path: `${file.path}#${t.study}/${t.number}`,
      bytes: 0,
      sha256: createHash("sha256").update(
        `${file.sha256}\n${t.study}\n${t.trialId}`,
      ).digest("hex"),
    });
    run.warnings.push(...study.warnings);
    runs.push(run);
  }
  return runs;
}

function trialRun(t: OptunaTrial, path: string, file: OptunaFile): ImportedRun {
  const run = emptyRun(
    "optuna",
    "optuna",
    path,
    `${t.study}/${t.number}`,
    `${t.study}_trial_${t.number}`,
  );
  run.toolVersion = file.version;
  const warn = (m: string) => run.warnings.push(`trial ${t.number}: ${m}`);
  const distributions: Record<string, ParamValue> = {};
  for (const p of t.params) {
    const d = decodeDistribution(p.distribution, p.name);
    distributions[p.name] = d.json;
    run.params[p.name] = externalValue(p.internal, d, p.name, warn);
  }
  run.startTime = parseTime(t.datetimeStart);
  run.endTime = parseTime(t.datetimeComplete);
  run.tags["optuna.study"] = t.study;
  run.tags["optuna.state"] = t.state;
  const values = t.values?.map((v) => Number.isFinite(v) ? v : null) ?? null;
  const types =
    t.values?.map((v) =>
      Number.isNaN(v)
        ? "NAN"
        : v === Infinity
        ? "INF_POS"
        : v === -Infinity
        ? "INF_NEG"
        : "FINITE"
    ) ?? null;
  run.sourceInfo = {
    study: t.study,
    storage: file.format,
    directions: t.directions,
    number: t.number,
    trial_id: t.trialId,
    state: t.state,
    status: t.state,
    values,
    ...(types?.some((x) => x !== "FINITE") ? { value_types: types } : {}),
    datetime_start: t.datetimeStart,
    datetime_complete: t.datetimeComplete,
    distributions,
    user_attrs: toParamValue(t.userAttrs, "user_attrs", warn),
    system_attrs: toParamValue(t.systemAttrs, "system_attrs", warn),
  };
  if (t.intermediate.size) {
    const steps = [...t.intermediate.keys()].sort((a, b) => a - b);
    run.tables.push({
      name: "intermediate",
      rows: steps.length,
      step: Float64Array.from(steps),
      columns: new Map([["value", {
        kind: "number",
        values: Float64Array.from(steps, (s) => t.intermediate.get(s)!),
        present: null,
      }]]),
    });
  }
  return run;
}

interface Distribution {
  name: string;
  choices: unknown[] | null;
  json: ParamValue;
}

function decodeDistribution(text: string, param: string): Distribution {
  let d: Record<string, unknown>;
  try {
    d = parsePythonJson(text) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidInputError(
      `Param "${param}" has a distribution that is not JSON (${
        text.slice(0, 80)
      })`,
      { cause: e },
    );
  }
  const attrs = (d.attributes ?? d) as Record<string, unknown>;
  const name = typeof d.name === "string" ? d.name : String(d.type);
  const choices = Array.isArray(attrs.choices) ? attrs.choices : null;
  return { name, choices, json: toParamValue(d, param, () => {}) };
}

/** A param's value as the objective saw it (`to_external_repr`). */
function externalValue(
  internal: number,
  d: Distribution,
  param: string,
  warn: (m: string) => void,
): ParamValue {
  if (d.choices) {
    const i = Math.trunc(internal);
    if (i < 0 || i >= d.choices.length) {
      warn(
        `param "${param}" holds choice index ${internal}, outside its ${d.choices.length} choices: stored as that index`,
      );
      return internal;
    }
    return toParamValue(d.choices[i], param, warn);
  }
  if (/^Int|^int$/.test(d.name)) return Math.trunc(internal);
  return toParamValue(internal, param, warn);
}

/** An Optuna datetime (naive local time, or ISO with a zone) as a Date. */
function parseTime(text: string | null): Date | null {
  if (text === null) return null;
  const iso = text.replace(" ", "T");
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}
