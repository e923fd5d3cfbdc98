/**
 * A training loop for the logger tests, run as a real subprocess:
 *
 *   deno run -A logger_child.ts <specimen dir> <mode> [options JSON]
 *
 * Every row is `expectedRow(step)`, so the parent can check each value read
 * back. Modes:
 * - `run`: logs forever, yielding now and then; prints `flushed <rows>`
 *   after each part is on disk (the parent kills it).
 * - `hold`: logs 10 rows, flushes, prints `ready`, then waits (holding the
 *   log open) until killed.
 * - `end`: logs `rows` rows and returns without close().
 * - `exit`: logs `rows` rows and calls Deno.exit(7) without close().
 * - `throw`: logs `rows` rows and throws an uncaught error.
 * - `close`: logs `rows` rows and closes (prints `closing` first).
 *
 * @module
 */
import { SpecimenStorage } from "../../lib/run/storage.ts";

/** The row logged at `step`: an integer, floats, a late key, a string. */
export function expectedRow(step: number): Record<string, number | string> {
  const row: Record<string, number | string> = {
    step,
    loss: 1 / (step + 1),
    lr: step * 1e-7,
    tokens: step * 512,
  };
  if (step % 7 === 0) row.eval_loss = 2 / (step + 1);
  if (step >= 500) row.phase = step % 2 ? "odd" : "even";
  return row;
}

if (import.meta.main) {
  const [dir, mode, json] = Deno.args;
  const o = JSON.parse(json ?? "{}");
  const storage = await SpecimenStorage.open(dir);
  const log = await storage.logger(o.name ?? "metrics", {
    flushRows: o.flushRows ?? 1000,
    flushSeconds: o.flushSeconds ?? 10,
    onFlush: (info) => console.log(`flushed ${info.totalRows}`),
  });
  const rows = o.rows ?? 0;
  if (mode === "run") {
    for (let step = 0;; step++) {
      log.log(expectedRow(step));
      if (step % 200 === 199) await new Promise((r) => setTimeout(r, 0));
    }
  }
  if (mode === "hold") {
    for (let step = 0; step < 10; step++) log.log(expectedRow(step));
    await log.flush();
    console.log("ready");
    setInterval(() => {}, 1000);
  } else {
    for (let step = 0; step < rows; step++) log.log(expectedRow(step));
    if (mode === "exit") Deno.exit(7);
    if (mode === "throw") throw new Error("training diverged");
    if (mode === "close") {
      console.log("closing");
      await log.close();
      console.log("closed");
    }
  }
}
