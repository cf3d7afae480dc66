"""Train two models, promote the better one to production behind a metric gate, see a
worse candidate refused, roll back, then read the history and the lineage; a server
that follows production swaps to each new holder while it answers requests.

Needs: pip install 'pinyard[serve]' scikit-learn

Run:  python examples/registry_promote.py [BOARD_FOLDER]      (default: ./pinyard-board)

Every registry step is one command from a shell too (see docs/cli-registry.md):
    pinyard registry transition BOARD house-price VERSION staging --reason "..."
    pinyard registry promote BOARD house-price VERSION production \\
        --data house-eval --data-version EVAL_VERSION --target price --min-improvement 1000
    pinyard registry rollback BOARD house-price production --reason "..."
    pinyard registry history BOARD house-price
    pinyard registry lineage BOARD house-price@production
    pinyard serve BOARD house-price --follow production
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

import pinyard
from pinyard.errors import PromotionRefusedError
from pinyard.models import ModelBundle
from pinyard.registry import MetricGate
from pinyard.serving import create_app

NAME = "house-price"


def houses(n: int, seed: int) -> pd.DataFrame:
    """Generated sales: the price is linear in the features, plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sqft": rng.uniform(500, 3500, n).round(),
            "rooms": rng.integers(1, 7, n).astype(float),
            "age": rng.uniform(0, 80, n).round(1),
        }
    )
    noise = rng.normal(0, 15_000, n)
    frame["price"] = 150 * frame["sqft"] + 10_000 * frame["rooms"] - 800 * frame["age"] + noise
    return frame


def fit(tracker: pinyard.Tracker, label: str, model: Any, train: pd.DataFrame) -> str:
    """Fit ``model`` in a tracked run and log it as a ModelBundle; returns the version."""
    x, y = train.drop(columns=["price"]), train["price"]
    with tracker.start_run(params={"model": label}, data=train, seed=0) as run:
        model.fit(x, y)
        residuals = y - model.predict(x)
        run.log_metric("train_rmse", float(np.sqrt((residuals**2).mean())))
        bundle = ModelBundle(model, prototype=x, run=run)
        version = run.log_model(bundle, NAME).version
    print(f"trained {label}: {NAME}:{version} (run {run.run_id})")
    return version


def scores(evidence: dict[str, Any]) -> str:
    return (
        f"candidate {evidence['candidate_score']:,.0f} vs holder {evidence['holder_score']:,.0f}"
    )


@contextmanager
def following_server(board: pinyard.Board, slot: str) -> Iterator[str]:
    """`pinyard serve BOARD house-price --follow SLOT` in a thread; yields its URL."""
    app = create_app(board, NAME, follow=slot, interval=0.2)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()


def served_version(url: str) -> str:
    """The version that answers one prediction (every response names it)."""
    row = json.dumps([{"sqft": 1500.0, "rooms": 3.0, "age": 20.0}]).encode()
    request = urllib.request.Request(  # noqa: S310 - a local URL
        f"{url}/predict", row, {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(response.headers["x-pinyard-version"])


def wait_until_served(url: str, version: str, since: float) -> str:
    """Poll the server until ``version`` answers; how long that took, as text."""
    while served_version(url) != version:
        if time.monotonic() - since > 30:
            raise TimeoutError(f"the server did not swap to {version} within 30 s")
        time.sleep(0.05)
    return f"{time.monotonic() - since:.1f} s"


def main(board_folder: str) -> None:
    # The models here are pickles this script writes itself, so reading them is safe.
    board = pinyard.board_folder(board_folder, allow_pickle_read=True)
    registry = pinyard.Registry(board, user="ana")  # default: $PINYARD_USER, else the login
    tracker = pinyard.Tracker(board, "house-price")

    # A frozen evaluation set: the gate scores against this exact version, and its
    # sha256 goes into every promotion's evidence.
    holdout = board.pin_write(houses(400, seed=2), "house-eval", type="parquet")
    print(f"evaluation set: house-eval:{holdout.version}")
    train = houses(1_000, seed=1)
    tree = fit(tracker, "tree-depth-2", DecisionTreeRegressor(max_depth=2), train)
    linear = fit(tracker, "linear", LinearRegression(), train)

    # rmse must drop by at least 1,000 to replace the holder; with no holder yet, a
    # candidate must reach 60,000.
    gate = MetricGate("house-eval", version=holdout.version, target="price", metric="rmse",
                      min_improvement=1_000.0, threshold=60_000.0)  # fmt: skip

    # 1. The first model goes through the stage order: staging, then production.
    registry.transition(NAME, tree, "staging", reason="first candidate")
    event = registry.promote(NAME, tree, "production", gate=gate, reason="beats the threshold")
    print(f"production <- tree (event {event.seq}): rmse {event.gate['candidate_score']:,.0f} "
          f"reaches {event.gate['threshold']:,.0f}")  # fmt: skip
    tree_time = datetime.now(UTC)
    with following_server(board, "production") as url:
        print(f"serving production: {served_version(url)}")
        promoted_and_served(registry, gate, url, tree, linear, tree_time)
    print_history_and_lineage(registry)


def promoted_and_served(
    registry: pinyard.Registry,
    gate: MetricGate,
    url: str,
    tree: str,
    linear: str,
    tree_time: datetime,
) -> None:
    """Steps 2-4, while a server follows production."""
    # 2. A better model replaces it; the tree moves to the archive stage.
    registry.transition(NAME, linear, "staging", reason="retrained on all features")
    started = time.monotonic()
    event = registry.promote(NAME, linear, "production", gate=gate, reason="lower rmse")
    print(f"production <- linear (event {event.seq}): {scores(event.gate)}")
    print(f"the server swapped to {linear} {wait_until_served(url, linear, started)} later")

    # 3. A worse candidate is refused, and the refusal is itself recorded.
    registry.transition(NAME, tree, "staging", reason="try the tree again")
    try:
        registry.promote(NAME, tree, "production", gate=gate, reason="second try")
    except PromotionRefusedError as refused:
        print(f"refused: {scores(refused.evidence)} (rmse, lower is better)")
    print(f"production is still {registry.resolve(f'{NAME}@production').version}")

    # What held production before the linear model arrived, and rolling back to it.
    before = registry.resolve(f"{NAME}@production", as_of=tree_time).version
    print(f"production as of {tree_time:%H:%M:%S} UTC: {before}")
    started = time.monotonic()
    event = registry.rollback(NAME, "production", reason="linear model misbehaves live")
    print(f"rolled back: production -> {event.version} (was {event.previous})")
    print(f"the server swapped back to {tree} {wait_until_served(url, tree, started)} later")


def print_history_and_lineage(registry: pinyard.Registry) -> None:
    print("\nhistory:")
    history = registry.history(NAME, as_df=True)
    print(history[["seq", "op", "slot", "version", "actor", "reason"]].to_string(index=False))

    lineage = registry.lineage(f"{NAME}@production")
    print(f"\nlineage of {NAME}@production:")
    print(f"  version:     {lineage.version}")
    print(f"  data.txt:    sha256 {lineage.meta_sha256}")
    print(f"  run:         {lineage.run_id} ({lineage.experiment})")
    print(f"  params:      {lineage.params}")
    print(f"  metrics:     {lineage.metrics}")
    print(f"  code commit: {lineage.code_commit or 'not in a git checkout'}")
    print(f"  held by:     {', '.join(lineage.holders)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pinyard-board")
