/**
 * Concurrency, with real processes: creators racing for one id, protocols
 * writing while the index runs, two indexers, queries during re-indexing.
 * One round of each here; `deno task stress` repeats them. See
 * docs/RELIABILITY.md.
 *
 * @module
 */
import { CONCURRENCY_SCENARIOS, runConcurrencyTrial } from "./_stress.ts";
import { assert } from "./utils.ts";

for (const scenario of CONCURRENCY_SCENARIOS) {
  Deno.test(`${scenario.name}: ${scenario.what}; nothing is lost and every invariant holds`, async () => {
    const outcome = await runConcurrencyTrial(scenario);
    assert(outcome.label.length > 0);
  });
}
