/**
 * Protocol of specimen {{id}} ({{domain}} / {{method}}).
 *
 * Run it once: `deno task run {{id}}` (records the run, its logs and
 * provenance, then seals the specimen), or directly with
 * `deno run -A specimens/{{id}}/protocol.ts` from any folder.
 * Results are write-once: a second run is refused.
 */
import { runProtocol } from "specimen-vault";

await runProtocol(import.meta, (storage) => {
  // Your experiment goes here (make the body `async` to await). For example:
  //
  //   const step = Array.from({ length: 100 }, (_, i) => i);
  //   const loss = step.map((s) => Math.exp(-s / 30));
  //   await storage.writeMetrics({ step, loss });
  //   await storage.writeTensor("activations", new Float32Array(100 * 512), {
  //     shape: [100, 512],
  //   });
  console.log(
    `Specimen ${storage.id} has no experiment yet: edit ${storage.dir}/protocol.ts`,
  );
});
