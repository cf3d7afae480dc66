"""Local files to objects and back, chosen by extension, for ``pins write`` and ``read``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pinyard.errors import InvalidArgumentError, NotFoundError

#: extension -> the pin type ``pins write`` stores the file's contents as.
WRITE_TYPES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".joblib": "joblib",
    ".pkl": "joblib",
    ".pickle": "joblib",
}


def check_input(path: str) -> None:
    """A local file to read: it exists and is a file (else a typed error naming it)."""
    if not os.path.exists(path):
        raise NotFoundError(f"no file {path!r}; check the path")
    if os.path.isdir(path):
        raise InvalidArgumentError(f"{path!r} is a folder, not a file")


def load(path: str, type_name: str | None = None) -> tuple[Any, str]:
    """The object in a local file and the pin type to store it as: from the file's
    extension, or the type given (which is then also how the file is read)."""
    check_input(path)
    suffix = Path(path).suffix.lower()
    guessed = WRITE_TYPES.get(suffix)
    reader = guessed or (type_name if type_name in set(WRITE_TYPES.values()) else None)
    if reader is None:
        raise InvalidArgumentError(
            f"cannot tell what {path!r} holds from its extension {suffix or '(none)'!r}; "
            f"`pinyard pins write` reads {', '.join(sorted(WRITE_TYPES))} (or pass --type "
            "csv|parquet|json|arrow|joblib). To store the file as it is, use "
            "`pinyard pins upload`"
        )
    import pandas as pd

    try:
        if reader == "csv":
            return pd.read_csv(path), reader
        if reader == "parquet":
            return pd.read_parquet(path), reader
        if reader == "arrow":
            return pd.read_feather(path), reader
        if reader == "json":
            with open(path, encoding="utf-8") as handle:
                return json.load(handle), reader
        import joblib

        return joblib.load(path), reader
    except (ValueError, OSError, EOFError, ImportError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidArgumentError(f"cannot read {path!r} as {reader}: {first}") from None
    except Exception as exc:  # a pickle or parser failing its own way
        raise InvalidArgumentError(
            f"cannot read {path!r} as {reader}: {type(exc).__name__}: {exc}"
        ) from None


def json_records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts (times as ISO text, NaN as None)."""
    return list(json.loads(frame.to_json(orient="records", date_format="iso")))


def as_json(obj: Any, name: str) -> Any:
    """An object `pins read` can print as JSON, or an error saying to use --out."""
    try:
        json.dumps(obj, allow_nan=True)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"pin {name!r} holds a {type(obj).__name__}, which cannot be printed; write it "
            "with --out FILE.joblib, or get the stored files with `pinyard pins download`"
        ) from None
    return obj


def save(obj: Any, path: str) -> None:
    """Write an object read from a pin to a local file, in the format of its extension."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if isinstance(obj, pd.DataFrame):
        writers = {
            ".csv": lambda: obj.to_csv(path, index=False),
            ".parquet": lambda: obj.to_parquet(path, index=False),
            ".json": lambda: obj.to_json(path, orient="records", date_format="iso"),
            ".feather": lambda: obj.reset_index(drop=True).to_feather(path),
            ".arrow": lambda: obj.reset_index(drop=True).to_feather(path),
        }
        if suffix not in writers:
            raise InvalidArgumentError(
                f"a table is written to .csv, .parquet, .json, .feather or .arrow, not {path!r}"
            )
        writers[suffix]()
        return
    if suffix == ".json":
        try:
            text = json.dumps(obj, indent=2, allow_nan=True)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"a {type(obj).__name__} is not JSON; use --out FILE.joblib or pins download"
            ) from None
        Path(path).write_text(text + "\n", encoding="utf-8")
        return
    if suffix in (".joblib", ".pkl", ".pickle"):
        import joblib

        joblib.dump(obj, path)
        return
    raise InvalidArgumentError(
        f"a {type(obj).__name__} is written to .json or .joblib, not {path!r} (or use "
        "`pinyard pins download` for the stored files)"
    )
