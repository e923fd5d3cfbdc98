"""tensorboardX: scalars with images (add_image, PNG in Summary.Value.image)
and a PR curve (a tensor of plugin pr_curves): the kinds an importer must keep
as files or name as not imported."""
import os, shutil, sys
import numpy as np
from tensorboardX import SummaryWriter
out = sys.argv[1]
d = os.path.join(out, "tbx_media")
shutil.rmtree(d, ignore_errors=True)
w = SummaryWriter(logdir=d)
for s in range(30):
    w.add_scalar("x/loss", 1.0 / (s + 7), s)
    if s % 10 == 0:
        w.add_image("img", np.random.default_rng(s).random((3, 4, 4)), s)
        w.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.8, 0.3]), s)
w.close()
print("done")
