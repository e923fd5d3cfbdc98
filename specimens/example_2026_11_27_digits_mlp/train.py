"""Train scikit-learn's MLPClassifier on the digits dataset, for the vault.

Run by protocol.ts through storage.exec. It needs numpy and scikit-learn
(Debian: apt-get install -y --no-install-recommends python3-sklearn
python3-numpy); the digits dataset ships with scikit-learn, so nothing is
downloaded. It talks to the vault through files named by environment
variables, with no package of ours:

- SPECIMEN_PARAMS: a JSON file with the hyperparameters (lr, epochs,
  hidden, seed);
- SPECIMEN_METRICS: a file it appends one JSON object per line to, one line
  per epoch: {"step", "epoch", "train_loss", "test_accuracy"};
- SPECIMEN_OUTPUTS: a folder for result files: the first layer's weights
  and the test confusion matrix as .npy, and a PNG when matplotlib imports.
"""
import json
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

with open(os.environ["SPECIMEN_PARAMS"]) as f:
    params = json.load(f)
lr = float(params.get("lr", 0.01))
epochs = int(params.get("epochs", 30))
hidden = int(params.get("hidden", 64))
seed = int(params.get("seed", 0))
outputs = os.environ["SPECIMEN_OUTPUTS"]

# 1,797 images of 8x8 pixels (values 0-16), ten classes.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, random_state=seed, stratify=y
)
model = MLPClassifier(
    hidden_layer_sizes=(hidden,),
    learning_rate_init=lr,
    batch_size=64,
    random_state=seed,
)
classes = np.arange(10)

with open(os.environ["SPECIMEN_METRICS"], "a") as metrics:
    for epoch in range(1, epochs + 1):
        model.partial_fit(X_train, y_train, classes=classes)  # one epoch
        row = {
            "step": epoch,
            "epoch": epoch,
            "train_loss": float(model.loss_),
            "test_accuracy": float(model.score(X_test, y_test)),
        }
        metrics.write(json.dumps(row) + "\n")
        metrics.flush()  # the vault reads the file as it grows

weights = model.coefs_[0].astype(np.float32)  # (64 pixels, hidden)
confusion = confusion_matrix(y_test, model.predict(X_test), labels=classes)
np.save(os.path.join(outputs, "first_layer_weights.npy"), weights)
np.save(os.path.join(outputs, "confusion_matrix.npy"), confusion)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].imshow(confusion, cmap="Blues")
    axes[0].set(title="Confusion matrix (test)", xlabel="predicted", ylabel="true")
    units = min(16, hidden)
    tiles = weights[:, :units].T.reshape(units, 8, 8)  # one 8x8 image per unit
    axes[1].imshow(np.hstack(list(tiles)), cmap="RdBu")
    axes[1].set(title=f"First {units} hidden units' weights", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(os.path.join(outputs, "digits_mlp.png"), dpi=80)
except ImportError:
    pass  # no matplotlib: no picture, the arrays are there

print(
    f"digits MLP: lr={lr} hidden={hidden} epochs={epochs} seed={seed}: "
    f"train loss {model.loss_:.4f}, test accuracy {model.score(X_test, y_test):.4f}"
)
