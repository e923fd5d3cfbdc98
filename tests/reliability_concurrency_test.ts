/**
 * Concurrency, with real processes: creators racing for one id, protocols
 * writing while the index runs, two indexers, queries during re-indexing.
 * One round of each here; `deno task stress` repeats them. See
 * docs/RELIABILITY.md.
 *
 * @module
 */
import {
  CONCURRENCY_SCENARIOS,
  loggerRace,
  runConcurrencyTrial,
} from "./_tools/stress/stress.ts";
import { assert } from "./utils.ts";

for (const scenario of CONCURRENCY_SCENARIOS) {
  Deno.test(`${scenario.name}: ${scenario.what}; nothing is lost and every invariant holds`, async () => {
    const outcome = await runConcurrencyTrial(scenario);
    assert(outcome.label.length > 0);
  });
}

Deno.test("loggers racing for one table, 3 more rounds: one wins, the others are refused with a clear error, close() never fails", async () => {
  for (let round = 0; round < 3; round++) {
    const outcome = await runConcurrencyTrial(loggerRace);
    assert(outcome.label.startsWith("one logger won"));
  }
});
