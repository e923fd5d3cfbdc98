/**
 * Protocol of specimen example_2026_11_27_digits_mlp (training /
 * fine_tuning): a real model trained in Python. `train.py` (numpy and
 * scikit-learn only) fits scikit-learn's MLPClassifier on the digits
 * dataset that ships with scikit-learn, one `partial_fit` per epoch, and
 * talks to the vault through `storage.exec`: it reads its params from
 * `$SPECIMEN_PARAMS`, appends one JSON line per epoch to `$SPECIMEN_METRICS`
 * (train loss, test accuracy) and leaves the first layer's weights and the
 * confusion matrix as `.npy` in `$SPECIMEN_OUTPUTS`, which become Zarr
 * arrays in strata/.
 *
 * Needs a Python 3 with numpy and scikit-learn: Debian's
 * `apt-get install -y --no-install-recommends python3-sklearn python3-numpy`
 * (or set `SPECIMEN_PYTHON` to an interpreter that has them).
 *
 * Run it once: `deno task run example_2026_11_27_digits_mlp`. Vary it in a
 * new specimen: `deno task create --from example_2026_11_27_digits_mlp
 * --sweep lr=0.1,0.01,0.001 --prefix digits`.
 */
import { findPython, NotFoundError, runProtocol } from "specimen-vault";

/** The defaults of the protocol's params; the manifest's values win. */
const PARAMS = { lr: 0.01, epochs: 30, hidden: 64, seed: 0 };

await runProtocol(import.meta, async (storage, params) => {
  const py = await findPython({ imports: ["numpy", "sklearn"] });
  if (!py.found) {
    throw new NotFoundError(
      `No Python 3 with numpy and scikit-learn (tried ${
        py.tried.map((t) => `${t.python}: ${t.reason}`).join("; ")
      }): install them with apt-get install -y --no-install-recommends python3-sklearn python3-numpy, or set SPECIMEN_PYTHON to an interpreter that has them`,
    );
  }
  const result = await storage.exec([py.python, "train.py"], {
    cwd: storage.dir,
  });
  console.log(
    `Python ${py.version} trained for ${params.epochs} epochs in ${
      (result.durationMs / 1000).toFixed(1)
    } s: ${result.rows.metrics ?? 0} metric rows`,
  );
}, { params: PARAMS });
