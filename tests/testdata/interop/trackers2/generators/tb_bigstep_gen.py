"""tensorboardX writing steps past 2^53 (time.time_ns()-like and 2**62): the
step field is an int64 in the Event proto, so each must come back exact."""
import os, shutil, sys
from tensorboardX import SummaryWriter
out = sys.argv[1]; shutil.rmtree(out, ignore_errors=True)
d = os.path.join(out, "tbx_bigstep")
w = SummaryWriter(logdir=d)
for s in [0, 2**31 + 5, 2**53 - 1, 2**53 + 1, 2**53 + 3, 2**62 + 7]:
    w.add_scalar("big/v", float(s % 1000) + 0.25, s)
ns = 1796606433101022000
for i in range(10):                      # ten time_ns() steps 1 ns apart
    w.add_scalar("ns/v", float(i), ns + i)
w.close()
print("done")
