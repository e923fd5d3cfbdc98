/**
 * `deno task import` against folders whose links lead out, and entries that
 * are not regular files (issue 22, items 11 and 14, and the other
 * importers' walks): real processes, real links, FIFOs, sockets and
 * devices. A link that leads out of the folder being imported is refused
 * by name and nothing is created; a FIFO, socket or device met while
 * listing is skipped with a warning naming it and what it is.
 */
import { join } from "../lib/_deps.ts";
import { writeMlflowStore } from "./_mlflow_store.ts";
import { copyTree, importCli } from "./_import.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  INTEROP,
  tempDir,
  tempVault,
} from "./utils.ts";

const TRACKERS = join(INTEROP, "trackers");

async function specimens(vault: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(vault))).map((e) => e.name)
    .sort();
}

/** A folder outside the import with a secret in it, and a YAML "meta". */
async function outside(dir: string) {
  const out = join(dir, "outside");
  await Deno.mkdir(join(out, "sub"), { recursive: true });
  await Deno.writeTextFile(join(out, "secret"), "SECRET-42");
  await Deno.writeTextFile(join(out, "sub", "secret"), "SECRET-43");
  await Deno.writeTextFile(
    join(out, "meta.yaml"),
    "run_id: evil\nrun_name: evil\nstart_time: 1\nexperiment_id: '1'\nname: evil\n",
  );
  await Deno.writeTextFile(join(out, "m"), "1 42 0\n");
  return out;
}

async function mkfifo(path: string) {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(r.success, "mkfifo");
}

Deno.test("deno task import mlflow refuses every link that leads out of the store, naming it, and creates nothing", async (t) => {
  await using src = await tempDir();
  const out = await outside(src.path);
  const cases: [string, (run: string, exp: string) => Promise<string>][] = [
    ["params/ linked to an outside folder", async (run) => {
      await Deno.remove(join(run, "params"), { recursive: true });
      await Deno.symlink(out, join(run, "params"));
      return join(run, "params");
    }],
    ["tags/ linked out", async (run) => {
      await Deno.remove(join(run, "tags"), { recursive: true });
      await Deno.symlink(out, join(run, "tags"));
      return join(run, "tags");
    }],
    ["metrics/ linked out", async (run) => {
      await Deno.remove(join(run, "metrics"), { recursive: true });
      await Deno.symlink(out, join(run, "metrics"));
      return join(run, "metrics");
    }],
    ["a folder inside params/ linked out", async (run) => {
      await Deno.symlink(join(out, "sub"), join(run, "params", "nested"));
      return join(run, "params", "nested");
    }],
    ["one param file linked to an outside file", async (run) => {
      await Deno.symlink(join(out, "secret"), join(run, "params", "lr2"));
      return join(run, "params", "lr2");
    }],
    ["one metric file linked out", async (run) => {
      await Deno.symlink(join(out, "m"), join(run, "metrics", "stolen"));
      return join(run, "metrics", "stolen");
    }],
    ["the run's meta.yaml linked out", async (run) => {
      await Deno.remove(join(run, "meta.yaml"));
      await Deno.symlink(join(out, "meta.yaml"), join(run, "meta.yaml"));
      return join(run, "meta.yaml");
    }],
    ["the experiment's meta.yaml linked out", async (_, exp) => {
      await Deno.remove(join(exp, "meta.yaml"));
      await Deno.symlink(join(out, "meta.yaml"), join(exp, "meta.yaml"));
      return join(exp, "meta.yaml");
    }],
    ["a whole run folder linked out", async (run) => {
      const moved = join(src.path, `moved_${crypto.randomUUID()}`);
      await Deno.rename(run, moved);
      await Deno.symlink(moved, run);
      return run;
    }],
  ];
  for (const [name, attack] of cases) {
    await t.step(name, async () => {
      await using vault = await tempVault();
      await using store = await tempDir();
      const { ids, exp } = await writeMlflowStore(store.path);
      const link = await attack(join(exp, ids[0]), exp);
      for (const kind of ["mlflow", "auto"]) {
        const r = await importCli([
          kind,
          join(store.path, "mlruns"),
          "--vault",
          vault.path,
        ]);
        assertEquals(r.code, 2, r.stderr);
        assertMatch(
          r.stderr,
          new RegExp(
            `Cannot import "${link}": it is a symbolic link to ".*", outside the folder being imported`,
          ),
        );
        assert(!r.stdout.includes("SECRET") && !r.stderr.includes("SECRET"));
        assertEquals(await specimens(vault.specimens), []);
      }
    });
  }
});

Deno.test("deno task import mlflow follows links that stay inside the store, once", async () => {
  await using vault = await tempVault();
  await using store = await tempDir();
  const { ids, exp } = await writeMlflowStore(store.path);
  const run = join(exp, ids[0]);
  // A param that is another run's param; a loop back to params/ itself.
  await Deno.symlink(
    join(exp, ids[1], "params", "lr"),
    join(run, "params", "other_lr"),
  );
  await Deno.symlink(join(run, "params"), join(run, "params", "loop"));
  const r = await importCli([
    "mlflow",
    join(store.path, "mlruns"),
    "--vault",
    vault.path,
    "--dry-run",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /other_lr/);
});

Deno.test("deno task import mlflow names each FIFO, socket and device it skips; a run whose meta.yaml is a FIFO is skipped, the others imported", async () => {
  await using vault = await tempVault();
  await using store = await tempDir();
  const { ids, exp } = await writeMlflowStore(store.path);
  const [first, second] = ids.map((id) => join(exp, id));
  const skipped: [string, RegExp][] = [];
  await Deno.remove(join(first, "meta.yaml"));
  await mkfifo(join(first, "meta.yaml"));
  skipped.push([join(first, "meta.yaml"), /a FIFO \(named pipe\)/]);
  for (const d of ["params", "metrics", "tags"]) {
    await mkfifo(join(second, d, "fifo"));
    skipped.push([join(second, d, "fifo"), /a FIFO \(named pipe\)/]);
  }
  const sock = Deno.listen({
    transport: "unix",
    path: join(second, "params", "sock"),
  });
  skipped.push([join(second, "params", "sock"), /a socket/]);
  if (Deno.uid() === 0) {
    const dev = join(second, "tags", "null");
    const r = await new Deno.Command("mknod", { args: [dev, "c", "1", "3"] })
      .output();
    if (r.success) skipped.push([dev, /a character device/]);
  }
  try {
    const r = await importCli([
      "mlflow",
      join(store.path, "mlruns"),
      "--vault",
      vault.path,
    ]);
    assertEquals(r.code, 0, r.stderr);
    for (const [path, what] of skipped) {
      const line = r.stderr.split("\n").find((l) => l.includes(`"${path}"`));
      assert(line, `no warning names ${path}:\n${r.stderr}`);
      assertMatch(line, /^warning: /);
      assertMatch(line, what);
      assertMatch(line, /not a regular file: skipped/);
    }
    // Every run but the first (its meta.yaml a FIFO) became a specimen.
    assertEquals((await specimens(vault.specimens)).length, ids.length - 1);
  } finally {
    sock.close();
  }
});

Deno.test("deno task import of TensorBoard, Lightning and HF Trainer folders refuses links that lead out, and follows those inside", async (t) => {
  await using src = await tempDir();
  const out = await outside(src.path);
  const kinds: [string, string, string][] = [
    // kind, fixture folder, a file the importer reads
    ["tensorboard", "tensorboard", ""],
    ["lightning", "lightning_csv", "hparams.yaml"],
    ["hf-trainer", "hf_trainer", "config.json"],
  ];
  for (const [kind, fixture, named] of kinds) {
    const fresh = async () => {
      const dir = join(src.path, `${kind}_${crypto.randomUUID()}`);
      await copyTree(join(TRACKERS, fixture), dir);
      return dir;
    };
    /** The first folder (depth first) holding a file the importer finds. */
    const runDir = (dir: string): string => {
      const stack = [dir];
      while (stack.length) {
        const d = stack.shift()!;
        const entries = [...Deno.readDirSync(d)].sort((a, b) =>
          a.name < b.name ? -1 : 1
        );
        if (
          entries.some((e) =>
            e.isFile &&
            /^(events\.out\.tfevents|metrics\.csv$|trainer_state\.json$)/.test(
              e.name,
            )
          )
        ) return d;
        stack.push(
          ...entries.filter((e) => e.isDirectory).map((e) => join(d, e.name)),
        );
      }
      throw new Error(`no run in ${dir}`);
    };
    await t.step(`${kind}: a subfolder linked out`, async () => {
      await using vault = await tempVault();
      const dir = await fresh();
      await Deno.symlink(out, join(dir, "linked"));
      const r = await importCli([kind, dir, "--vault", vault.path]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(
          `"${
            join(dir, "linked")
          }": it is a symbolic link to "${out}", outside`,
        ),
      );
      assertEquals(await specimens(vault.specimens), []);
    });
    if (named) {
      await t.step(`${kind}: ${named} linked out`, async () => {
        await using vault = await tempVault();
        const dir = await fresh();
        const run = runDir(dir);
        await Deno.remove(join(run, named)).catch(() => {});
        await Deno.symlink(join(out, "meta.yaml"), join(run, named));
        const r = await importCli([kind, dir, "--vault", vault.path]);
        assertEquals(r.code, 2, r.stderr);
        assertMatch(
          r.stderr,
          new RegExp(`"${join(run, named)}": it is a symbolic link`),
        );
        assertEquals(await specimens(vault.specimens), []);
      });
    }
    await t.step(
      `${kind}: a run folder linked from inside is imported`,
      async () => {
        await using vault = await tempVault();
        const dir = await fresh();
        const run = runDir(dir);
        const moved = join(dir, ".kept");
        await Deno.rename(run, moved);
        await Deno.symlink(moved, run);
        const r = await importCli([
          kind,
          dir,
          "--vault",
          vault.path,
          "--dry-run",
        ]);
        assertEquals(r.code, 0, r.stderr);
      },
    );
  }
});

Deno.test("deno task import refuses a FIFO given as the CSV or JSONL file, naming it", async () => {
  await using vault = await tempVault();
  await using src = await tempDir();
  for (
    const [kind, name] of [["csv", "x.csv"], ["jsonl", "x.jsonl"], [
      "auto",
      "y.csv",
    ]]
  ) {
    const path = join(src.path, name);
    await mkfifo(path).catch(() => {});
    const r = await importCli([kind, path, "--vault", vault.path]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, new RegExp(`Cannot import "${path}": it is a FIFO`));
  }
  assertEquals(await specimens(vault.specimens), []);
});
