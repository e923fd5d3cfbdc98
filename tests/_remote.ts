/**
 * Helpers of the remote tests and the remote bench: sealed specimens made
 * through the library, a real S3 server per test file, and the remote
 * tasks run as subprocesses with deno.json's flags.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { ROOT, runDeno, type RunResult, taskFlags } from "./utils.ts";
import {
  createBucket,
  installSwift,
  type S3Server,
  startS3Server,
} from "./_tools/s3/swift_server.ts";

export { createBucket, type S3Server, startS3Server };

/** Options of {@linkcode makeSealed}. */
export interface SealedOptions {
  /** Metric rows. @default 100 */
  steps?: number;
  /** Tensor elements (float32). @default 64 */
  tensor?: number;
  tags?: string[];
  /** One uncompressed chunk (a 5M-element tensor: a 20 MB object). @default false */
  oneChunk?: boolean;
  /** Added to the loss, so two specimens of one id differ. @default 0 */
  offset?: number;
}

/** Creates specimen `id` in `vault` with metrics and a tensor, and seals it. */
export async function makeSealed(
  vault: string,
  id: string,
  o: SealedOptions = {},
): Promise<string> {
  const steps = o.steps ?? 100;
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
    tags: o.tags,
  });
  const storage = await SpecimenStorage.open(dir);
  const step = Array.from({ length: steps }, (_, i) => i);
  await storage.writeMetrics({
    step,
    loss: Float64Array.from(step, (s) => Math.exp(-s / 30) + (o.offset ?? 0)),
  });
  const n = o.tensor ?? 64;
  await storage.writeTensor(
    "weights",
    Float32Array.from({ length: n }, (_, i) => i + (o.offset ?? 0)),
    o.oneChunk
      ? { shape: [n], chunks: [n], compression: "none" }
      : { shape: [n] },
  );
  await sealSpecimen(dir);
  return dir;
}

/** The server for a test file: started once, installed first when root can. */
export async function s3ForTests(): Promise<S3Server> {
  await installSwift();
  return await startS3Server();
}

/** Environment for the AWS chain pointing at `s3`'s credentials. */
export function awsEnv(s3: S3Server): Record<string, string> {
  return {
    ...s3.env,
    AWS_MAX_ATTEMPTS: "3",
    HOME: Deno.env.get("HOME") ?? "/root",
  };
}

/** Runs `deno task <name> args` the way deno.json does, in `cwd`. */
export async function remoteTask(
  name: "push" | "pull" | "remote" | "clone",
  args: string[],
  o: { cwd: string; env?: Record<string, string> },
): Promise<RunResult> {
  return await runDeno(
    [
      "run",
      ...await taskFlags(name),
      join(ROOT, "tasks", `${name}.ts`),
      ...args,
    ],
    { cwd: o.cwd, env: o.env },
  );
}
