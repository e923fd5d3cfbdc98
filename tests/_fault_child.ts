/**
 * The process the fault tests kill: `deno run -A tests/_fault_child.ts <op>
 * '<json args>'`. It prepares its inputs, prints `READY`, runs one vault
 * operation, and prints `DONE <ms>`; some operations print a `MARK` line at
 * a point worth killing at. The parent (tests/_tools/stress/stress.ts) sends SIGKILL at a
 * chosen moment and then checks what the vault looks like.
 *
 * @module
 */
import { errorMessage } from "../lib/errors.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";

/** Deterministic metric columns of `rows` rows (the parent checks them). */
export function metricColumns(rows: number): {
  step: Int32Array;
  loss: Float64Array;
  acc: Float64Array;
} {
  const step = new Int32Array(rows);
  const loss = new Float64Array(rows);
  const acc = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    step[i] = i;
    loss[i] = 1 / (i + 1);
    acc[i] = (i % 1000) / 1000;
  }
  return { step, loss, acc };
}

/** Value at flat index `i` of the streamed test tensor (exact in float32). */
export function tensorValue(i: number): number {
  return i % 65521;
}

const encoder = new TextEncoder();
function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

async function main(op: string, args: Record<string, unknown>) {
  const started = () => {
    say("READY");
    return performance.now();
  };
  let t0: number;
  switch (op) {
    case "write-metrics": {
      const storage = await SpecimenStorage.open(args.dir as string);
      const columns = metricColumns(args.rows as number);
      t0 = started();
      await storage.writeMetrics(columns, { name: args.name as string });
      break;
    }
    case "write-tensor": {
      const storage = await SpecimenStorage.open(args.dir as string);
      const rows = args.rows as number;
      const cols = args.cols as number;
      const block = args.block as number;
      const data = new Float32Array(block * cols);
      t0 = started();
      const writer = await storage.createTensor(args.name as string, {
        shape: [rows, cols],
        dtype: "float32",
      });
      for (let r = 0; r < rows; r += block) {
        for (let i = 0; i < data.length; i++) {
          data[i] = tensorValue(r * cols + i);
        }
        await writer.write(data);
        if (r + block === rows / 2) say("MARK half");
      }
      await writer.close();
      break;
    }
    case "log": {
      // A training loop: a row per step, a pause now and then (the event
      // loop runs: flushes are acknowledged and reported as MARK lines).
      const storage = await SpecimenStorage.open(args.dir as string);
      const rows = args.rows as number;
      t0 = started();
      const logger = await storage.logger(args.name as string, {
        flushRows: args.flushRows as number,
        flushSeconds: Infinity,
        onFlush: (info) => say(`MARK flushed ${info.totalRows}`),
      });
      for (let i = 0; i < rows; i++) {
        logger.log({ step: i, loss: 1 / (i + 1) });
        if (i % 2000 === 1999) await new Promise((r) => setTimeout(r, 0));
      }
      await logger.close();
      break;
    }
    case "create": {
      t0 = started();
      await createSpecimen({
        vault: args.vault as string,
        id: args.id as string,
        domain: "training",
        method: "fine_tuning",
        tags: ["fault"],
      });
      break;
    }
    case "create-task": {
      // The create task itself, started when the parent creates the file
      // `go`: all racers wait at this barrier, so they truly collide.
      const { main } = await import("../tasks/create.ts");
      const { runMain } = await import("../lib/cli/cli.ts");
      say("READY");
      const gate = new Int32Array(new SharedArrayBuffer(4));
      for (;;) {
        try {
          Deno.statSync(args.go as string);
          break;
        } catch {
          Atomics.wait(gate, 0, 0, 0.2); // a fifth of a millisecond
        }
      }
      await runMain(main, args.argv as string[]);
      return; // runMain exits
    }
    case "log-race": {
      // Loggers racing for one table, released together by the file `go`:
      // prints RESULT with what open(), log() and close() did.
      const storage = await SpecimenStorage.open(args.dir as string);
      say("READY");
      const gate = new Int32Array(new SharedArrayBuffer(4));
      for (;;) {
        try {
          Deno.statSync(args.go as string);
          break;
        } catch {
          Atomics.wait(gate, 0, 0, 0.2);
        }
      }
      t0 = performance.now();
      let result: Record<string, unknown>;
      let logger;
      try {
        logger = await storage.logger(args.name as string, {
          flushRows: 100,
          flushSeconds: Infinity,
        });
      } catch (e) {
        result = {
          stage: "open",
          error: (e as Error).name,
          message: (e as Error).message,
        };
      }
      if (logger) {
        try {
          for (let i = 0; i < (args.rows as number); i++) {
            logger.log({ step: i, loss: 1 / (i + 1) });
          }
          await new Promise((r) => setTimeout(r, args.holdMs as number));
          const record = await logger.close();
          result = { stage: "closed", rows: record?.rows ?? 0 };
        } catch (e) {
          result = {
            stage: "close",
            error: (e as Error).name,
            message: (e as Error).message,
          };
        }
      }
      say(`RESULT ${JSON.stringify(result!)}`);
      break;
    }
    case "index": {
      // DuckDB is loaded only by the operations that use it.
      const { indexVault } = await import("../lib/catalog/index_vault.ts");
      t0 = started();
      await indexVault({ vault: args.vault as string, full: true });
      break;
    }
    case "index-incremental": {
      const { indexVault } = await import("../lib/catalog/index_vault.ts");
      t0 = started();
      await indexVault({ vault: args.vault as string });
      break;
    }
    case "verify": {
      const { verifyVault } = await import("../lib/specimen/verify.ts");
      t0 = started();
      let marked = false;
      const results = await verifyVault({
        vault: args.vault as string,
        onProgress: (p) => {
          if (!marked && p.bytesDone > 0) {
            marked = true;
            say("MARK hashing");
          }
        },
      });
      const bad = results.filter((r) => r.state !== "ok");
      if (bad.length) throw new Error(`verify: ${JSON.stringify(bad)}`);
      break;
    }
    case "hammer": {
      // Queries the catalog until `ms` have passed; prints what it saw.
      const { VaultQuery } = await import("../lib/query/vault_query.ts");
      t0 = started();
      const seen: Record<string, number> = {};
      const errors: string[] = [];
      let queries = 0;
      const until = performance.now() + (args.ms as number);
      while (performance.now() < until) {
        queries++;
        try {
          using q = await VaultQuery.open({ vault: args.vault as string });
          const [r] = await q.search(
            `SELECT (SELECT count(*) FROM catalog) AS s,
                    (SELECT count(*) FROM metrics) AS m,
                    (SELECT value FROM vault_info WHERE key = 'specimens') AS v,
                    (SELECT count(*) FROM catalog WHERE metrics_rows IS NULL) AS n`,
          );
          const key = `${r.s}/${r.m}/${r.v}/${r.n}`;
          seen[key] = (seen[key] ?? 0) + 1;
        } catch (e) {
          errors.push(errorMessage(e));
        }
      }
      say(`RESULT ${JSON.stringify({ queries, seen, errors })}`);
      break;
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
  say(`DONE ${(performance.now() - t0).toFixed(1)}`);
}

if (import.meta.main) {
  await main(Deno.args[0], JSON.parse(Deno.args[1] ?? "{}"));
}
