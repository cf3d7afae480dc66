"""Two colleagues share data and a model through one board on S3.

Needs: pip install 'pinyard[s3,data,joblib]'
Run:   python examples/share_on_s3.py s3://BUCKET/team-board

The bucket must exist. Credentials and endpoint come from the usual places,
as in real use: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE,
~/.aws, an instance role), AWS_DEFAULT_REGION, and, for an S3-compatible
store such as MinIO or Cloudflare R2, AWS_ENDPOINT_URL. See docs/sharing.md
for the bucket set-up and the permissions each colleague needs.

Each colleague gets their own board object and their own local cache, as two
people on two machines would. The caches live in a temporary folder here, so
the script leaves nothing behind on this machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import pinyard
from pinyard.errors import PinyardError


def fit_line(df: pd.DataFrame) -> dict[str, float]:
    """A tiny 'model': least-squares revenue ~ a * ads + b."""
    a, b = np.polyfit(df["ads"], df["revenue"], 1)
    rmse = np.sqrt(((df["revenue"] - (a * df["ads"] + b)) ** 2).mean())
    return {"slope": float(a), "intercept": float(b), "rmse": float(rmse)}


def alice_publishes(url: str, cache_dir: Path) -> str:
    """Alice writes a dataset and two versions of a model; returns the id she shares."""
    board = pinyard.board(url, cache=pinyard.Cache(cache_dir))
    sales = pd.DataFrame(
        {"region": ["north", "south", "east", "west"], "ads": [1.0, 2.0, 3.0, 4.0],
         "revenue": [10.2, 19.8, 30.1, 39.9]}
    )  # fmt: skip
    data = board.pin_write(sales, "sales", description="Revenue and ad spend by region")
    print(f"alice: sales -> {data.version} (written: {data.written})")

    model = fit_line(sales)
    first = board.pin_write(
        model,
        "revenue-model",
        type="joblib",
        metadata={"rmse": model["rmse"], "algorithm": "least squares"},
        lineage={"data": f"sales@{data.version}"},
    )
    print(f"alice: revenue-model -> {first.version}; tells Bob to use this one")

    retrained = fit_line(sales.iloc[1:])  # a later experiment, without the north region
    later = board.pin_write(
        retrained,
        "revenue-model",
        type="joblib",
        metadata={"rmse": retrained["rmse"], "algorithm": "least squares", "note": "no north"},
        lineage={"data": f"sales@{data.version}"},
    )
    print(f"alice: revenue-model -> {later.version} (experiment)")
    return first.version


def bob_reads(url: str, cache_dir: Path, version: str) -> None:
    """Bob opens the same URL on his machine and reads the exact version Alice named."""
    # Bob trusts Alice's board: reading her joblib model unpickles it (pins asks the same).
    board = pinyard.board(
        url, create=False, cache=pinyard.Cache(cache_dir), allow_pickle_read=True
    )
    print(f"bob: pins on {url}: {board.pin_list()}")
    print(board.pin_versions("revenue-model").to_string(index=False))

    meta = board.pin_meta("revenue-model", version=version)
    model = board.pin_read("revenue-model", version=version)  # sha256-verified, then unpickled
    print(f"bob: revenue-model@{meta.version} = {model}")
    print(f"bob: metadata {dict(meta.user)}, trained on {meta.lineage['data']}")
    print(f"bob: file {meta.files[0].name} sha256 {meta.files[0].sha256[:16]}…")

    sales = board.pin_read("sales")
    print(f"bob: latest sales has {len(sales)} rows:")
    print(sales.to_string(index=False))

    board.pin_read("revenue-model", version=version)  # second read: from Bob's local cache
    info = board.cache.info() if board.cache is not None else None
    if info is not None:
        print(f"bob: local cache holds {info.entries} file(s), {info.bytes} bytes")


def main(url: str) -> None:
    if not url.startswith("s3://"):
        raise SystemExit(f"usage: python {sys.argv[0]} s3://BUCKET/PREFIX (got {url!r})")
    bucket, _, root = url[len("s3://") :].partition("/")
    with tempfile.TemporaryDirectory(prefix="pinyard-share-") as tmp:
        shared_id = alice_publishes(url, Path(tmp, "alice-cache"))
        bob_reads(url, Path(tmp, "bob-cache"), shared_id)
    pins_prefix = f"{root.strip('/')}/pins/" if root.strip("/") else "pins/"
    print(f'R colleagues:      pins::board_s3("{bucket}", prefix = "{pins_prefix}")')
    print(f'pins-python users: pins.board_s3("{bucket}/{pins_prefix.rstrip("/")}")')


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    try:
        main(sys.argv[1])
    except PinyardError as exc:
        raise SystemExit(f"error: {exc}") from None
