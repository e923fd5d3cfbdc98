/**
 * Test-only: an MLflow file store laid out by MLflow's documented FileStore
 * layout (MLflow could not be installed where the fixtures were made, so
 * tests/testdata/interop/trackers/ has none), from the runs its
 * fixture_config.json describes.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { INTEROP } from "./utils.ts";

const TRACKERS = join(INTEROP, "trackers");

/**
 * Writes a file store the way MLflow's FileStore lays one out (experiment
 * meta.yaml; per run meta.yaml, params/, tags/, metrics/ lines
 * "timestamp value step"), from the runs fixture_config.json describes.
 */
export async function writeMlflowStore(root: string) {
  const cfg = JSON.parse(
    await Deno.readTextFile(join(TRACKERS, "fixture_config.json")),
  ).mlflow;
  const exp = join(root, "mlruns", "123456789");
  await Deno.mkdir(join(root, "mlruns", ".trash"), { recursive: true });
  await Deno.mkdir(exp, { recursive: true });
  await Deno.writeTextFile(
    join(exp, "meta.yaml"),
    `artifact_location: file://${exp}\ncreation_time: 1795779000000\nexperiment_id: '123456789'\nlast_update_time: 1795779000000\nlifecycle_stage: active\nname: ${cfg.experiment}\n`,
  );
  await Deno.mkdir(join(exp, "tags"));
  const ids: string[] = [];
  // deno-lint-ignore no-explicit-any
  for (const [i, rc] of (cfg.runs as any[]).entries()) {
    const id = `${i}f`.padEnd(32, "0");
    ids.push(id);
    const dir = join(exp, id);
    for (const d of ["metrics", "params", "tags", "artifacts"]) {
      await Deno.mkdir(join(dir, d), { recursive: true });
    }
    const start = 1795779100000 + i * 1000;
    await Deno.writeTextFile(
      join(dir, "meta.yaml"),
      `artifact_uri: file://${dir}/artifacts\nend_time: ${
        start + 900
      }\nentry_point_name: ''\nexperiment_id: '123456789'\nlifecycle_stage: active\nrun_id: ${id}\nrun_name: ${rc.name}\nrun_uuid: ${id}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: ${start}\nstatus: 3\ntags: []\nuser_id: root\n`,
    );
    for (const [k, v] of Object.entries(rc.params)) {
      await Deno.writeTextFile(join(dir, "params", k), String(v));
    }
    for (
      const [k, v] of Object.entries({ ...rc.tags, "mlflow.runName": rc.name })
    ) {
      await Deno.writeTextFile(join(dir, "tags", k), String(v));
    }
    const lines: Record<string, string[]> = {};
    for (let s = 0; s < rc.steps; s++) {
      (lines[cfg.metrics[0]] ??= []).push(
        `${start + s} ${1 / (1 + s * rc.params.lr * 10)} ${s}`,
      );
      if (s % 5 === 0) {
        (lines[cfg.metrics[1]] ??= []).push(
          `${start + s} ${Math.min(1, 0.5 + s / (2 * rc.steps))} ${s}`,
        );
      }
    }
    // a key with a slash is a nested file
    lines["sys/gpu"] = [`${start} 1 0`];
    for (const [k, ls] of Object.entries(lines)) {
      await Deno.mkdir(join(dir, "metrics", ...k.split("/").slice(0, -1)), {
        recursive: true,
      });
      await Deno.writeTextFile(
        join(dir, "metrics", ...k.split("/")),
        ls.join("\n") + "\n",
      );
    }
  }
  return { cfg, ids, exp };
}
