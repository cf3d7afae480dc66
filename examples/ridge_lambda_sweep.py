"""Choose a ridge penalty honestly: every fit is a run, the test set is touched once.

Needs: pip install 'pinyard[data,joblib,plot]'
Run:   python examples/ridge_lambda_sweep.py [BOARD_FOLDER] [PLOT.png]
       (defaults: ./pinyard-board and ./ridge_lambda_sweep.png)

Simulated regression: n = 400 rows, p = 8 strongly correlated features
(one shared factor), every coefficient 0.5, noise sd 2, fixed seed: a dense,
weak signal, where some shrinkage lowers the expected test error. Rows are
split 300 train / 100 test, and the 300 training rows again 225 fit / 75
validation. Ridge is fitted in closed form with numpy, on features
standardized with the fitting rows' mean and sd and with an unpenalized
intercept: beta = solve(X'X + lambda I, X'y) on centered y.

The design, and why:

1. Selection. One run per lambda in {0, 0.1, 1, 5, 10, 25, 50, 100}, fitted on
   the 225 fit rows (tag ``stage=select``; params lambda, n_train; metrics
   train_rmse, val_rmse). These runs do not log test_rmse at all.
2. ``tracker.best_run("val_rmse", where=...)`` picks lambda on validation RMSE.
3. Report. One more run refits the chosen lambda on all 300 training rows
   (``stage=refit``, tagged with the selection run it came from) and logs
   test_rmse: the only time the 100 test rows are used. Its model is written
   to the board with ``run.log_model``, so the pin's lineage names this run.

Logging test_rmse for all eight fits and "only selecting on val_rmse" is
the classic mistake made easy: the number sits in the runs table and the
plot, and choosing the lambda, the grid or the model after seeing it turns
the test set into a second validation set whose RMSE is optimistic. Here
it does not exist until the choice is made. The refit run logs no
val_rmse, since the validation rows are part of its training data.

Each run also records the seed and the fingerprint of the rows it was
fitted on; all runs of one invocation share the tag ``sweep``, so running
the script again on the same board starts a new, separate sweep.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import pinyard

SEED = 20240605
N, P, NOISE_SD = 400, 8, 2.0
N_TRAIN, N_FIT = 300, 225
LAMBDAS = (0.0, 0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
TRUE_BETA = np.full(P, 0.5)  # a dense, weak signal: where shrinkage pays
FACTOR_LOADING = 2.0  # strongly correlated features
EXPERIMENT = "ridge-lambda-sweep"


@dataclass
class RidgeModel:
    """A fitted ridge regression: standardization, coefficients, intercept."""

    lam: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.intercept + ((x - self.x_mean) / self.x_scale) @ self.coef

    def as_pin(self, features: list[str]) -> dict[str, object]:
        """Plain values, so any process can read the pin (no class from this script)."""
        return {
            "lambda": self.lam,
            "features": features,
            "x_mean": self.x_mean.tolist(),
            "x_scale": self.x_scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }


def simulate(rng: np.random.Generator) -> pd.DataFrame:
    """Correlated features (one shared factor) and y = 1 + X beta + N(0, 2^2) noise."""
    factor = rng.normal(size=(N, 1))
    x = FACTOR_LOADING * factor + rng.normal(size=(N, P))
    y = 1.0 + x @ TRUE_BETA + rng.normal(scale=NOISE_SD, size=N)
    frame = pd.DataFrame(x, columns=[f"x{i + 1}" for i in range(P)])
    frame["y"] = y
    return frame


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float) -> RidgeModel:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / scale
    coef = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return RidgeModel(lam, mean, scale, coef, float(y.mean()))


def rmse(model: RidgeModel, frame: pd.DataFrame) -> float:
    x, y = xy(frame)
    return float(np.sqrt(np.mean((model.predict(x) - y) ** 2)))


def xy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()


def main(folder: str, plot_path: str) -> None:
    rng = np.random.default_rng(SEED)
    data = simulate(rng)
    order = rng.permutation(N)
    train, test = data.iloc[order[:N_TRAIN]], data.iloc[order[N_TRAIN:]]
    fit_rows, val_rows = train.iloc[:N_FIT], train.iloc[N_FIT:]

    board = pinyard.board_folder(folder)
    tracker = pinyard.Tracker(board, EXPERIMENT)
    sweep = uuid.uuid4().hex[:8]
    this_sweep = f"tags.sweep = '{sweep}'"
    selection = f"{this_sweep} and tags.stage = 'select'"

    # 1. Selection: fit on 225 rows, score on the 75 validation rows. No test set.
    for lam in LAMBDAS:
        with tracker.start_run(
            params={"lambda": lam, "n_train": len(fit_rows)},
            tags={"stage": "select", "sweep": sweep},
            seed=SEED,
            data=fit_rows,
        ) as run:
            model = fit_ridge(*xy(fit_rows), lam)
            run.log_metric("train_rmse", rmse(model, fit_rows))
            run.log_metric("val_rmse", rmse(model, val_rows))

    # 2. Choose lambda on validation RMSE.
    best = tracker.best_run("val_rmse", where=selection)
    lam = best.params["lambda"]

    # 3. Refit on all 300 training rows; the test set is used here, once.
    with tracker.start_run(
        params={"lambda": lam, "n_train": len(train)},
        tags={"stage": "refit", "sweep": sweep, "selected_from": best.run_id},
        seed=SEED,
        data=train,
    ) as run:
        final = fit_ridge(*xy(train), lam)
        run.log_metrics({"train_rmse": rmse(final, train), "test_rmse": rmse(final, test)})
        features = [c for c in train.columns if c != "y"]
        # A new version even if a rerun makes the same model: its lineage names this run.
        written = run.log_model(
            final.as_pin(features), "ridge-model", description="ridge, lambda chosen on val RMSE"
        )
        fig = tracker.plot("lambda", "val_rmse", where=selection)
        run.log_artifact(fig, "val_rmse_vs_lambda.png")
    refit = tracker.get_run(run.run_id)

    Path(plot_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot_path, dpi=120)

    columns = ["run_id", "tags.stage", "params.lambda", "params.n_train",
               "metrics.train_rmse", "metrics.val_rmse", "metrics.test_rmse"]  # fmt: skip
    table = tracker.search(this_sweep)[columns]
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(f"runs of sweep {sweep} in experiment {EXPERIMENT!r}:")
        print(table.to_string(index=False))
    print(
        f"best run (selected on val_rmse): {best.run_id}  lambda={lam:g}  "
        f"val_rmse={best.metrics['val_rmse']:.4f}"
    )
    print(
        f"refit run: {refit.run_id}  lambda={lam:g} on {len(train)} rows  "
        f"test_rmse={refit.metrics['test_rmse']:.4f} (test set used once)"
    )
    lineage = board.pin_meta("ridge-model", written.version).lineage
    print(f"model pin ridge-model version {written.version}, lineage run_id {lineage['run_id']}")
    print(f"plot: {plot_path}")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "pinyard-board",
        sys.argv[2] if len(sys.argv) > 2 else "ridge_lambda_sweep.png",
    )
