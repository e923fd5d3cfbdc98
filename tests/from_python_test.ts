// The "From Python" snippets (docs/FROM_PYTHON.md), run as written with Debian's python3
// and numpy on a real vault: the README stays true.
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { assert, assertEquals, newStorage, ROOT, tempVault } from "./utils.ts";
import { hasNumpy, NO_NUMPY, PYTHON } from "./_python.ts";

const ignore = !(await hasNumpy());
if (ignore) console.error(NO_NUMPY);

/**
 * The python block that follows `<!-- from-python: NAME -->` in
 * docs/FROM_PYTHON.md (the README links there).
 */
async function snippet(name: string): Promise<string> {
  const readme = await Deno.readTextFile(
    join(ROOT, "docs", "FROM_PYTHON.md"),
  );
  const marker = `<!-- from-python: ${name} -->`;
  const at = readme.indexOf(marker);
  assert(at >= 0, `docs/FROM_PYTHON.md has no ${marker}`);
  const m = /```python\n([\s\S]*?)```/.exec(readme.slice(at));
  assert(m, `no python block after ${marker}`);
  return m[1];
}

/** Runs `code` with Debian's python3; returns its stdout parsed as JSON. */
async function python(code: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", code],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test({
  name:
    "From Python: the README's numpy-only reader reads uncompressed Zarr arrays the vault wrote, edge chunks and all",
  ignore,
  fn: async (t) => {
    await using vault = await tempVault();
    const storage = await newStorage(vault.path, "py_read");
    const reader = await snippet("numpy-zarr");
    const cases = [
      {
        name: "float32 5×7 in 2×3 chunks (partial edge chunks)",
        data: Float32Array.from({ length: 35 }, (_, i) => i * 0.5 - 3),
        shape: [5, 7],
        chunks: [2, 3],
        dtype: "float32",
      },
      {
        name: "int64 1-D in one chunk",
        data: BigInt64Array.from(
          { length: 9 },
          (_, i) => BigInt(i) * -(2n ** 40n),
        ),
        shape: [9],
        chunks: undefined,
        dtype: "int64",
      },
      {
        name: "float64 2×2×3 in 1×2×2 chunks",
        data: Float64Array.from({ length: 12 }, (_, i) => Math.PI * i),
        shape: [2, 2, 3],
        chunks: [1, 2, 2],
        dtype: "float64",
      },
      {
        name: "uint8 4×4 in 3×3 chunks",
        data: Uint8Array.from({ length: 16 }, (_, i) => 255 - i * 7),
        shape: [4, 4],
        chunks: [3, 3],
        dtype: "uint8",
      },
    ];
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        const name = `t${i}`;
        await storage.writeTensor(name, c.data, {
          shape: c.shape,
          chunks: c.chunks,
          compression: "none",
        });
        const path = join(storage.strata, `${name}.zarr`);
        const r = await python(
          `${reader}
a = read_zarr(${JSON.stringify(path)})
print(json.dumps({"dtype": a.dtype.name, "shape": list(a.shape), "values": [str(v) for v in a.ravel(order="C")]}))
`,
        );
        assertEquals(r.code, 0, r.stderr);
        const got = JSON.parse(r.stdout);
        assertEquals(got.dtype, c.dtype);
        assertEquals(got.shape, c.shape);
        const want = Array.from(
          c.data as ArrayLike<number | bigint>,
          (v) => typeof v === "bigint" ? String(v) : v,
        );
        assertEquals(
          got.values.map((v: string, j: number) =>
            typeof want[j] === "string" ? v : Number(v)
          ),
          want,
        );
      });
    }
    await t.step(
      "a zstd array is refused, pointing to zarr-python",
      async () => {
        await storage.writeTensor("packed", new Float32Array(10), {
          shape: [10],
        });
        const r = await python(
          `${reader}\nread_zarr(${
            JSON.stringify(join(storage.strata, "packed.zarr"))
          })`,
        );
        assert(r.code !== 0);
        assert(
          /compressed .*zstd.*: read it with zarr-python/.test(r.stderr),
          r.stderr,
        );
      },
    );
  },
});

Deno.test({
  name:
    "From Python: the README's csv query reads the Parquet metrics through deno task query, with the standard library only",
  ignore: !(await Deno.stat(PYTHON).then(() => true, () => false)),
  fn: async () => {
    await using vault = await tempVault();
    const storage = await newStorage(vault.path, "py_query");
    const step = [0, 1, 2, 3];
    const loss = [2.5, 1.25, 0.625, 0.3125];
    await storage.writeMetrics({ step, loss });
    await indexVault({ vault: vault.path });
    const query = await snippet("csv-query");
    const r = await python(
      `${query}
import json
rows = query("SELECT step, loss FROM exp_py_query ORDER BY step", ${
        JSON.stringify(vault.path)
      }, repo=${JSON.stringify(ROOT)})
print(json.dumps(rows))
`,
      // deno as this test runs it, found on PATH as the snippet expects.
      {
        PATH: `${join(Deno.execPath(), "..")}:${Deno.env.get("PATH") ?? ""}`,
      },
    );
    assertEquals(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assertEquals(rows.map((x: Record<string, string>) => Number(x.step)), step);
    assertEquals(rows.map((x: Record<string, string>) => Number(x.loss)), loss);
  },
});

/** Whether `cmd` runs (a missing program throws when spawned). */
async function runs(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}
const pyDuckdb = await runs(PYTHON, ["-c", "import duckdb"]);
const duckdbCli = await runs("duckdb", ["-version"]);
if (!pyDuckdb && !duckdbCli) {
  console.error(
    "skipped: neither Python's duckdb nor the duckdb CLI is installed (the csv query test reads the Parquet through deno task query instead)",
  );
}

Deno.test({
  name:
    "From Python: DuckDB reads the vault's Parquet directly, where Python's duckdb or the duckdb CLI exists",
  ignore: !pyDuckdb && !duckdbCli,
  fn: async () => {
    await using vault = await tempVault();
    const storage = await newStorage(vault.path, "py_duck");
    await storage.writeMetrics({ step: [0, 1], loss: [1.5, 0.75] });
    const file = join(storage.strata, "metrics.parquet");
    const sql = `SELECT sum(loss) AS s FROM read_parquet('${
      file.replaceAll("'", "''")
    }')`;
    const out = pyDuckdb
      ? (await python(
        `import duckdb\nprint(duckdb.sql(${
          JSON.stringify(sql)
        }).fetchone()[0])`,
      )).stdout
      : new TextDecoder().decode(
        (await new Deno.Command("duckdb", {
          args: ["-csv", "-noheader", "-c", sql],
        }).output()).stdout,
      );
    assertEquals(Number(out.trim()), 2.25);
  },
});
