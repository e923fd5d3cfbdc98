/**
 * Protocol of specimen {{id}} ({{domain}} / {{method}}): `train.py`, run by
 * the Python that findPython chooses, through `storage.exec`.
 *
 * Which Python: `$SPECIMEN_PYTHON` when set (and then only it: a run with
 * an interpreter that lacks a module fails, naming it), else Debian's
 * `/usr/bin/python3`, else the `python3` first on PATH: the first of them
 * that imports every module of `IMPORTS`. The one chosen (its path, the
 * file it resolves to, its version and packages) is recorded in the
 * manifest's `provenance.children`. To use a venv:
 * `SPECIMEN_PYTHON=.venv/bin/python deno task run {{id}}`.
 *
 * `params.json` holds the defaults of the params train.py reads (the
 * manifest's values win; `deno task create --param` is checked against
 * them); add a key there when train.py reads a new one.
 *
 * `train.py` reads its params from `$SPECIMEN_PARAMS`, appends one JSON
 * line per step to `$SPECIMEN_METRICS`, and leaves result files (`.npy`,
 * `.csv`, anything) in `$SPECIMEN_OUTPUTS`; they become strata/.
 *
 * Run it once: `deno task run {{id}}`. Vary it in a new specimen:
 * `deno task create --from {{id}} --sweep lr=0.1,0.01 --prefix {{id}}_lr`.
 */
import { findPython, NotFoundError, runProtocol } from "specimen-vault";
import PARAMS from "./params.json" with { type: "json" };

/** The modules train.py imports. */
const IMPORTS = ["numpy"];

await runProtocol(import.meta, async (storage, params) => {
  const chosen = Deno.env.get("SPECIMEN_PYTHON");
  const py = await findPython({
    imports: IMPORTS,
    ...(chosen ? { candidates: [chosen] } : {}),
  });
  if (!py.found) {
    throw new NotFoundError(
      `No Python 3 that imports ${IMPORTS.join(", ")} (tried ${
        py.tried.map((t) => `${t.python}: ${t.reason}`).join("; ")
      }): install them (Debian: apt-get install python3-numpy), or ${
        chosen ? "change" : "set"
      } SPECIMEN_PYTHON to an interpreter that has them`,
    );
  }
  console.log(`Python: ${py.python} (${py.version})`);
  const result = await storage.exec([py.python, "train.py"], {
    cwd: storage.dir,
  });
  console.log(
    `train.py ran ${params.steps} steps in ${
      (result.durationMs / 1000).toFixed(1)
    } s: ${result.rows.metrics ?? 0} metric rows`,
  );
}, { params: PARAMS });
