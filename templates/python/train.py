"""Training script of specimen {{id}}, run by protocol.ts through storage.exec.

It talks to the vault through files named by environment variables, with no
package of ours:

- SPECIMEN_PARAMS: a JSON file with the params (lr, steps, hidden, seed);
- SPECIMEN_METRICS: a file to append one JSON object per line to, e.g.
  {"step": 3, "loss": 0.41}; each line becomes a row of strata/metrics;
- SPECIMEN_OUTPUTS: a folder for result files (.npy arrays become Zarr
  tensors, .csv/.jsonl tables, anything else is kept as a file).

Replace the toy model below with yours (PyTorch, JAX, ...); keep the three
variables.
"""
import json
import os

import numpy as np

with open(os.environ["SPECIMEN_PARAMS"]) as f:
    params = json.load(f)
lr = float(params["lr"])
steps = int(params["steps"])
hidden = int(params["hidden"])
rng = np.random.default_rng(int(params["seed"]))

# A toy regression: a two-layer network fitted to y = sin(x) by gradient descent.
x = rng.uniform(-3, 3, size=(256, 1))
y = np.sin(x)
w1 = rng.normal(0, 1, size=(1, hidden))
w2 = rng.normal(0, 1 / np.sqrt(hidden), size=(hidden, 1))

with open(os.environ["SPECIMEN_METRICS"], "a") as metrics:
    for step in range(1, steps + 1):
        h = np.tanh(x @ w1)
        err = h @ w2 - y
        loss = float(np.mean(err**2))
        grad_w2 = h.T @ err * (2 / len(x))
        grad_w1 = x.T @ ((err @ w2.T) * (1 - h**2)) * (2 / len(x))
        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
        metrics.write(json.dumps({"step": step, "loss": loss}) + "\n")
        metrics.flush()  # the vault reads the file as it grows

np.save(os.path.join(os.environ["SPECIMEN_OUTPUTS"], "w1.npy"), w1.astype(np.float32))
