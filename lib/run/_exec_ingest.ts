/**
 * Private: the rows of a child's `SPECIMEN_METRICS` routed to one
 * `MetricsLogger` per table, and the skipped lines counted and reported
 * (`storage.exec`, in `exec.ts`).
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { validateArtifactName } from "../specimen/artifact_name.ts";
import type {
  LogRow,
  MetricsLogger,
  MetricsLoggerOptions,
} from "../metrics_log/logger.ts";
import type { JsonlBatch } from "../bridge/jsonl_follow.ts";

/** What the ingest needs from a specimen's storage. */
export interface IngestHost {
  /** A crash-safe logger for table `name`. */
  logger(
    name: string,
    options?: MetricsLoggerOptions,
  ): Promise<MetricsLogger>;
}

/** The exec's options the ingest reads. */
export interface IngestOptions {
  /** The table rows without `_table` go to. */
  table: string;
  /** Bad lines tolerated before the run fails. */
  maxBad: number;
  /** Print warnings to stderr. */
  echo: boolean;
  /** Rows per part of each table. */
  flushRows: number;
}

/** A line of `SPECIMEN_METRICS` that was skipped, and why. */
export interface ExecProblem {
  /** 1-based line number in the file. */
  line: number;
  /**
   * What was wrong: the follower's kinds (`not_json`, `not_object`,
   * `not_utf8`, `too_long`, `torn`), `bad_table` (a `_table` that is not a
   * table name) or `rejected` (the logger refused the row: a value of
   * another type than earlier ones, a nested value, no value at all).
   */
  kind:
    | "not_json"
    | "not_object"
    | "not_utf8"
    | "too_long"
    | "torn"
    | "bad_table"
    | "rejected";
  /** A sentence for people, naming the file and the line. */
  message: string;
}

/** Bad-line warnings printed before they are only counted. */
const WARNINGS_SHOWN = 20;
/**
 * The most tables one exec's `_table`s may open. Each table is a
 * `MetricsLogger` with its own writer thread (about 17 MB resident): 100
 * tables took a run to 1.7 GB, so a child writing a new `_table` per line
 * would run the machine out of memory; 16 cost about 300 MB at most.
 */
export const MAX_TABLES = 16;

/** Rows routed to one logger per table; problems counted and reported. */
export class Ingest {
  /** Rows per table, keyed by the child's `_table`s (a Map: user input). */
  readonly counts = new Map<string, number>();
  readonly problems: ExecProblem[] = [];
  bad = 0;
  torn = false;
  #host: IngestHost;
  #o: IngestOptions;
  #path: string;
  #loggers = new Map<string, MetricsLogger>();
  #shown = 0;

  constructor(host: IngestHost, o: IngestOptions, path: string) {
    this.#host = host;
    this.#o = o;
    this.#path = path;
  }

  /** Logs the rows and counts the problems of `b`, in line order. */
  async batch(b: JsonlBatch): Promise<void> {
    let next = 0;
    const problemsUpTo = (line: number) => {
      for (; next < b.problems.length && b.problems[next].line < line; next++) {
        const p = b.problems[next];
        if (p.kind === "torn") {
          this.torn = true;
          this.#report(p);
        } else this.#bad(p);
      }
    };
    for (const { line, value } of b.rows) {
      problemsUpTo(line);
      let table = this.#o.table;
      let row = value;
      if (Object.hasOwn(value, "_table")) {
        const { _table, ...rest } = value;
        if (typeof _table !== "string" || !validName(_table)) {
          this.#bad({
            line,
            kind: "bad_table",
            message: `${this.#where(line)} routes to table ${
              JSON.stringify(_table)
            }, which is not a table name (lowercase letters, digits, _): the line was skipped`,
          });
          continue;
        }
        table = _table;
        row = rest;
      }
      let logger = this.#loggers.get(table);
      if (logger === undefined) {
        if (this.#loggers.size >= MAX_TABLES) {
          this.#bad({
            line,
            kind: "bad_table",
            message: `${
              this.#where(line)
            } routes to table "${table}", which would be table ${
              MAX_TABLES + 1
            }: one exec writes at most ${MAX_TABLES} tables (each holds a writer thread, about 17 MB); the line was skipped. Put the category in a column instead, e.g. {"_table": "eval", "split": "${table}", …}`,
          });
          continue;
        }
        logger = await this.#open(table);
      }
      try {
        logger.log(row as LogRow);
      } catch (e) {
        if (!(e instanceof InvalidInputError)) throw e;
        this.#bad({
          line,
          kind: "rejected",
          message: `${this.#where(line)}: ${e.message}; the line was skipped`,
        });
        continue;
      }
      this.counts.set(table, (this.counts.get(table) ?? 0) + 1);
    }
    problemsUpTo(Infinity);
  }

  /** Rows per table as a plain object (own entries only, whatever the names). */
  get rows(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Closes (compacts and records) every table; the first error is thrown. */
  async close(): Promise<void> {
    let first: unknown;
    for (const logger of this.#loggers.values()) {
      await logger.close().catch((e) => (first ??= e));
    }
    if (first !== undefined) throw first;
  }

  /** Says how many warnings were not printed. */
  summarize(): void {
    const hidden = this.problems.length - this.#shown;
    if (this.#o.echo && hidden > 0) {
      console.error(
        `warning: ${hidden} more skipped line(s) in ${this.#path} (see the run's execs in the manifest)`,
      );
    }
  }

  async #open(table: string): Promise<MetricsLogger> {
    let logger: MetricsLogger;
    try {
      logger = await this.#host.logger(table, { flushRows: this.#o.flushRows });
    } catch (e) {
      const hint = table === this.#o.table
        ? `give this exec another table: storage.exec(command, { table: "${table}_2" })`
        : `route its rows to another "_table"`;
      (e as Error).message =
        `Cannot log the rows of ${this.#path} to table "${table}": ${
          (e as Error).message
        }. ${hint}`;
      throw e;
    }
    this.#loggers.set(table, logger);
    return logger;
  }

  #where(line: number): string {
    return `"${this.#path}" line ${line}`;
  }

  #report(p: ExecProblem): void {
    this.problems.push(p);
    if (this.#o.echo && this.#shown < WARNINGS_SHOWN) {
      this.#shown++;
      console.error(`warning: ${p.message}`);
    }
  }

  #bad(p: ExecProblem): void {
    this.bad++;
    this.#report(p);
    if (this.bad > this.#o.maxBad) {
      throw new InvalidInputError(
        `Stopped the child: ${this.bad} bad lines in its SPECIMEN_METRICS file, over the limit of ${this.#o.maxBad} (the last: ${p.message}). Write one JSON object per line, or raise the limit: storage.exec(command, { maxBadLines: ${
          Math.max(1, this.#o.maxBad) * 10
        } })`,
      );
    }
  }
}

function validName(name: string): boolean {
  try {
    validateArtifactName(name);
    return true;
  } catch {
    return false;
  }
}
