"""Optuna 5.0 studies with every trial state and the awkward values: pruned,
failed and still-running trials, an objective of +inf, a categorical of mixed
choices (None, bool, int, float, str), log/step int and float distributions,
nested user attributes, and a two-objective study. Both storages. Writes
trials_<name>.csv = trials_dataframe() of each."""
import math, os, shutil, sys
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
optuna.logging.set_verbosity(optuna.logging.ERROR)
out = sys.argv[1]; shutil.rmtree(out, ignore_errors=True); os.makedirs(out)

def objective(t):
    x = t.suggest_float("x", -2.0, 2.0, step=0.5)
    n = t.suggest_int("n", 2, 64, log=True)
    c = t.suggest_categorical("c", [None, True, 3, 0.25, "relu"])
    t.set_user_attr("meta", {"n": n, "tags": ["a", "b"]})
    if t.number == 3:
        raise ValueError("boom")          # FAIL
    if t.number == 5:
        return float("inf")               # COMPLETE with +inf
    for step in range(4):
        t.report(x * x + step, step)
        if t.number in (2, 6) and step == 1:
            raise optuna.TrialPruned()    # PRUNED after 2 reports
    return x * x + n / 64

def multi(t):
    a = t.suggest_float("a", 0, 1)
    return a, 1 - a

for name, storage in [("rdb", f"sqlite:///{out}/edge.db"),
                      ("journal", JournalStorage(JournalFileBackend(os.path.join(out, "edge_journal.log"))))]:
    s = optuna.create_study(study_name="edge", storage=storage, direction="minimize",
                            sampler=optuna.samplers.RandomSampler(seed=1))
    s.optimize(objective, n_trials=8, catch=(ValueError,))
    running = s.ask()                     # left RUNNING, as a killed worker leaves it
    running.suggest_float("x", -2.0, 2.0, step=0.5)
    s.trials_dataframe().to_csv(os.path.join(out, f"trials_edge_{name}.csv"), index=False)
    m = optuna.create_study(study_name="pareto", storage=storage, directions=["minimize", "maximize"],
                            sampler=optuna.samplers.RandomSampler(seed=2))
    m.optimize(multi, n_trials=3)
    m.trials_dataframe().to_csv(os.path.join(out, f"trials_pareto_{name}.csv"), index=False)
print("done")
