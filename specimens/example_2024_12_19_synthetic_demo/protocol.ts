/**
 * Protocol of specimen example_2024_12_19_synthetic_demo
 * (interpretability / sae_analysis): a synthetic, deterministic stand-in for
 * a training run, so the whole vault can be tried without a GPU.
 *
 * Run it once: `deno task run example_2024_12_19_synthetic_demo`, or
 * `deno run -A specimens/example_2024_12_19_synthetic_demo/protocol.ts` from
 * any folder. Results are write-once: a second run is refused.
 *
 * Its params (recorded in the manifest before the run): `lr`, the learning
 * rate, sets how fast the loss falls (the default gives the original curve),
 * and `seed` seeds the PRNG. Vary them in a new specimen:
 * `deno task create --from example_2024_12_19_synthetic_demo --sweep lr=3e-3,1e-3,3e-4 --prefix my_sweep`.
 */
import { runProtocol } from "specimen-vault";

const STEPS = 100;
const WIDTH = 512;
/** The defaults of the protocol's params; the manifest's values win. */
const PARAMS = { lr: 1e-3, seed: 20241219 };
/** The learning rate the loss curve's time constant is given for. */
const BASE_LR = 1e-3;

/** mulberry32: a small seeded PRNG, so every run writes the same numbers. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

await runProtocol(import.meta, async (storage, params) => {
  const rand = prng(params.seed);
  // A larger learning rate makes the loss fall faster (1 for the default).
  const speed = params.lr / BASE_LR;
  const step = new Int32Array(STEPS);
  const loss = new Float64Array(STEPS);
  const accuracy = new Float64Array(STEPS);
  const entropy = new Float64Array(STEPS);
  for (let s = 0; s < STEPS; s++) {
    const noise = () => (rand() - 0.5) * 0.04;
    step[s] = s;
    // Loss decays towards a floor; accuracy rises; entropy falls: the shapes
    // of a real training run, with a little seeded noise.
    loss[s] = 0.35 + 2.0 * Math.exp((-s * speed) / 18) + noise();
    accuracy[s] = Math.min(1, 0.1 + 0.82 * (1 - Math.exp(-s / 22)) + noise());
    entropy[s] = 0.6 + 1.7 * Math.exp(-s / 25) + noise();
  }
  await storage.writeMetrics({ step, loss, accuracy, entropy });

  const activations = new Float32Array(STEPS * WIDTH);
  for (let i = 0; i < activations.length; i++) activations[i] = gaussian(rand);
  await storage.writeTensor("activations", activations, {
    shape: [STEPS, WIDTH],
  });

  console.log(
    `Wrote ${STEPS} steps (lr ${params.lr}, seed ${params.seed}) of loss/accuracy/entropy and a ${STEPS}×${WIDTH} activations tensor to ${storage.strata}`,
  );
}, { params: PARAMS });
