"""The main job on a local board: share data and a model as immutable, verified versions.

Needs: pip install 'pinyard[data,joblib]'
Run:   python examples/quickstart.py [BOARD_FOLDER]     (default: ./pinyard-board)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import pinyard


def main(folder: str) -> None:
    # Creates pinyard.json + pins/ if new. Reading a joblib version unpickles it, which
    # runs its writer's code: as in pins, only a board opened with allow_pickle_read=True
    # (or with PINS_ALLOW_PICKLE_READ=1 set) does. This board is our own.
    board = pinyard.board_folder(folder, allow_pickle_read=True)

    # Data: a DataFrame becomes a parquet version; readers get it back verified.
    sales = pd.DataFrame({"region": ["north", "south"], "revenue": [120.5, 98.0]})
    meta = board.pin_write(sales, "sales", description="Quarterly revenue by region")
    done = "wrote" if meta.written else "unchanged, kept"  # a rerun finds the same content
    print(
        f"{done} sales version {meta.version} ({meta.type}, sha256 {meta.files[0].sha256[:12]}…)"
    )

    # Writing the same content again stores nothing new, and says so.
    again = board.pin_write(sales, "sales")
    print(f"identical write stored a new version: {again.written}")

    # A model (any Python object) is a joblib version with its own metadata.
    model = {"coef": [0.4, 1.7], "intercept": 3.2}
    board.pin_write(model, "revenue-model", type="joblib", metadata={"metric_rmse": 1.9})
    board.pin_write({**model, "intercept": 3.0}, "revenue-model", type="joblib")

    print("pins:", board.pin_list())
    print(board.pin_versions("revenue-model"))
    first = board.pin_versions("revenue-model", as_df=False)[0].version
    print("first model version:", board.pin_read("revenue-model", version=first))
    print("latest model:", board.pin_read("revenue-model"))
    where = Path(folder).resolve()
    print(f"R pins and pins-python can open {where / 'pins'} as a board_folder")
    print(f"the board is in {where}; run this again to see what a rerun stores")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pinyard-board")
