"""Fit a model, pin it with its signature, serve that exact version, call it over HTTP.

Needs: pip install 'pinyard[serve]' scikit-learn
Run:   python examples/serve_model.py [BOARD_FOLDER]      (default: ./pinyard-board)

The same server runs from a shell with
    pinyard serve BOARD_FOLDER churn-model --version <the version printed below> \\
        --allow-pickle-read
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pinyard
from pinyard.models import ModelBundle
from pinyard.serving import create_app


def training_data(seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    n = 500
    x = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, n),
            "monthly_fee": rng.normal(40, 12, n).round(2),
            "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], n)),
        }
    )
    logit = 1.5 - 0.06 * x["tenure_months"] + 0.03 * (x["monthly_fee"] - 40)
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return x, pd.Series(churned.astype(int), name="churned")


def post(url: str, body: object) -> tuple[int, Message, Any]:
    """POST ``body`` as JSON; the status, headers and decoded JSON of the response."""
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:  # 4xx/5xx: the body says why
        return error.code, error.headers, json.load(error)


def main(board_folder: str) -> None:
    x, y = training_data()
    # Serving unpickles the model (pins asks the same); this script serves only its own.
    board = pinyard.board_folder(board_folder, allow_pickle_read=True)
    tracker = pinyard.Tracker(board, "churn")
    with tracker.start_run(params={"C": 1.0}, seed=7, data=x) as run:
        features = make_column_transformer((OneHotEncoder(), ["plan"]), remainder=StandardScaler())
        model = make_pipeline(features, LogisticRegression(C=1.0)).fit(x, y)
        run.log_metric("train_accuracy", float(model.score(x, y)))
        # The signature comes from the training frame; only types are kept.
        bundle = ModelBundle(model, prototype=x, metadata={"owner": "growth-team"}, run=run)
        written = run.log_model(bundle, "churn-model")
    print(f"wrote churn-model version {written.version}")

    # Serve exactly that version (uvicorn in a thread, so this script can call it).
    app = create_app(board, "churn-model", version=written.version)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    url = f"http://127.0.0.1:{port}"
    rows = [
        {"tenure_months": 2, "monthly_fee": 55.0, "plan": "pro"},
        {"tenure_months": 60, "monthly_fee": 30.0, "plan": "basic"},
    ]
    _, headers, body = post(f"{url}/predict_proba", rows)
    print("served version:", headers["x-pinyard-version"])
    print("churn probability:", [round(p, 3) for p in body["1"]])
    bad_row = {"tenure_months": 2, "monthly_fee": "high", "plan": "pro"}
    status, _, body = post(f"{url}/predict", [bad_row])
    print("bad request:", status, body["detail"][0]["msg"])
    with urllib.request.urlopen(f"{url}/metadata", timeout=30) as response:  # noqa: S310
        lineage = json.load(response)["lineage"]
    print("trained by run:", lineage["run_id"], "with params", lineage["params"])

    server.should_exit = True
    thread.join()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pinyard-board")
