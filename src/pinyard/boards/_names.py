"""Every rule for a name that reaches a store path, in one place.

Names are checked at the public boundary, before anything is read or
written, and refused with an `InvalidNameError` that names the value, what is
wrong with it and the rule. New names are held to stricter rules than names
read back (`validate_new_pin_name` against `validate_pin_name`), so a pin an
older pinyard or pins wrote stays readable. docs/decisions/0011 says why.
The stores check every path again (`store_path_problem`): a second line of
defence, not the place where users learn the rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from pinyard.errors import InvalidNameError

#: The longest data-file extension a pin type may have (``parquet``).
MAX_EXTENSION_BYTES = 7
#: File systems limit one path component to 255 bytes, and a pin's data file is
#: ``<name>.<extension>``: so a new pin name has at most 255 - 1 - 7 bytes.
MAX_PIN_NAME_BYTES = 255 - 1 - MAX_EXTENSION_BYTES
MAX_COMPONENT_BYTES = 255
MAX_KEY_CHARS = 250
MAX_EXPERIMENT_CHARS = 200
RESERVED_NAMES = frozenset({"_pins.yaml", "data.txt"})
META_FILENAME_RESERVED = "data.txt"
#: Anchored at both ends (``\Z``: ``$`` would let a trailing newline through), so that
#: ``match`` and ``fullmatch`` agree.
VERSION_PATTERN = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{5})\Z")
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}\Z")
_EXPERIMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Characters Windows forbids in file names (``*`` and ``?`` are also glob patterns).
_FORBIDDEN = '/\\:*?"<>|'
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"{port}{n}" for port in ("com", "lpt") for n in [*"0123456789", "¹", "²", "³"]}
)

_PIN_RULE = (
    f"A new pin name is one path component of 1 to {MAX_PIN_NAME_BYTES} UTF-8 bytes "
    f"(so that '<name>.<extension>' fits the 255-byte file name limit), in NFC form, "
    'without control or invisible characters or any of / \\ : * ? " < > |, not '
    "starting with '.' or whitespace, not ending with '.' or whitespace, and not a name "
    "Windows reserves (CON, PRN, AUX, NUL, COM0-9, LPT0-9) or pins reserves (data.txt, "
    "_pins.yaml); spaces inside are fine. For example 'sales-model' or 'daily prices'."
)
_READ_RULE = (
    "A pin name is one path component of at most 255 UTF-8 bytes, without '/', '\\', "
    "':' or control characters, not '.', '..' or starting with '.', without leading or "
    "trailing whitespace, and not data.txt or _pins.yaml."
)
_EXPERIMENT_RULE = (
    f"An experiment name has 1 to {MAX_EXPERIMENT_CHARS} ASCII letters, digits, '.', '_' "
    "and '-', starts with a letter or digit, does not end with '.', and is not a name "
    "Windows reserves (CON, NUL, COM1, ...); for example 'ridge-sweep'."
)
_KEY_RULE = (
    f"A key is 1 to {MAX_KEY_CHARS} characters of valid Unicode text without '/', '\\', "
    "control or invisible characters, and without leading or trailing whitespace."
)
_FILE_RULE = (
    f"A file name is one path component of at most {MAX_COMPONENT_BYTES} UTF-8 bytes "
    "without '/', '\\' or control characters, and not '.', '..' or data.txt; rename the file."
)


def _text_problem(value: str) -> str | None:
    """Problems every name has in common: not text, or unprintable."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs":
            return f"it contains a lone surrogate ({ch!r}), which is not valid Unicode text"
        if category in _INVISIBLE:
            return f"it contains a control or invisible format character ({ch!r})"
    return None


def _component_problem(name: str, max_bytes: int) -> str | None:
    """A safe single path component (the rules pins readers and every store share)."""
    if not name:
        return "it is empty"
    problem = _text_problem(name)
    if problem:
        return problem
    size = len(name.encode("utf-8"))
    if size > max_bytes:
        return f"it is {size} bytes long (UTF-8), the limit is {max_bytes}"
    if name in {".", ".."}:
        return "it is a relative path component"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    return None


def _read_pin_problem(name: str) -> str | None:
    problem = _component_problem(name, MAX_COMPONENT_BYTES)
    if problem:
        return problem
    if name != name.strip():
        return "it starts or ends with whitespace"
    if name.startswith("."):
        return "it starts with '.', which pins readers would list as a pin"
    if ":" in name:
        return "it contains ':', which is a drive or URL separator on some backends"
    if name in RESERVED_NAMES:
        return f"the name {name!r} is reserved for internal use"  # pins' words
    return None


def _new_pin_problem(name: str) -> str | None:
    problem = _component_problem(name, MAX_PIN_NAME_BYTES) or _read_pin_problem(name)
    if problem:
        return problem
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        return f"it contains {' '.join(bad)}, which Windows does not allow in file names"
    if name.endswith("."):
        return "it ends with '.', which Windows drops from file names"
    if _is_windows_device(name):
        return f"{_device_part(name)!r} is a device name reserved on Windows"
    if name.casefold() in RESERVED_NAMES:
        return "that name is reserved by the pins format (in any case)"
    nfc = unicodedata.normalize("NFC", name)
    if nfc != name:
        return f"it is not in Unicode NFC form; write it as {nfc!r}"
    return None


def _device_part(name: str) -> str:
    return name.split(".", maxsplit=1)[0].rstrip(" ")


def _is_windows_device(name: str) -> bool:
    """CON, NUL.txt, com1.tar.gz ...: Windows opens a device for any of them."""
    return _device_part(name).casefold() in _WINDOWS_DEVICES


def _experiment_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    problem = _text_problem(name)
    if problem:
        return problem
    if not _EXPERIMENT.fullmatch(name):
        return "it has characters other than ASCII letters, digits, '.', '_' and '-'"
    if len(name) > MAX_EXPERIMENT_CHARS:
        return f"it is {len(name)} characters long, the limit is {MAX_EXPERIMENT_CHARS}"
    return None


def _new_experiment_problem(name: str) -> str | None:
    problem = _experiment_problem(name)
    if problem:
        return problem
    if name.endswith("."):
        return "it ends with '.', which Windows drops from folder names"
    if _is_windows_device(name):
        return f"{_device_part(name)!r} is a device name reserved on Windows"
    return None


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    problem = _text_problem(key)
    if problem:
        return problem
    if len(key) > MAX_KEY_CHARS:
        return f"it is {len(key)} characters long, the limit is {MAX_KEY_CHARS}"
    if "/" in key or "\\" in key:
        return "it contains a path separator"
    if key != key.strip():
        return "it starts or ends with whitespace"
    return None


def _pattern_problem(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    return lambda value: None if pattern.fullmatch(value) else "it is not of that form"


def _file_problem(name: str) -> str | None:
    if name == META_FILENAME_RESERVED:
        return "it is reserved for the version's metadata"
    return _component_problem(name, MAX_COMPONENT_BYTES)


def file_name_problem(name: str) -> str | None:
    """Why a data file's base name is unsafe to join to a version folder, or None."""
    problem = _file_problem(name)
    return f"{shown(name)}: {problem}" if problem else None


SLOT_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_SLOT_RULE = (
    "{what} is a lowercase letter followed by up to 62 lowercase letters, digits, '-' or "
    "'_' (for example 'champion' or 'canary-eu')."
)

#: kind -> (what is wrong with a value, or None; the rule in words)
_RULES: dict[str, tuple[Callable[[str], str | None], str]] = {
    "pin name": (_read_pin_problem, _READ_RULE),
    "new pin name": (_new_pin_problem, _PIN_RULE),
    "experiment name": (_experiment_problem, _EXPERIMENT_RULE),
    "new experiment name": (_new_experiment_problem, _EXPERIMENT_RULE),
    "version id": (
        _pattern_problem(VERSION_PATTERN),
        "A version id has the form 'YYYYmmddTHHMMSSZ-xxxxx' (5 lowercase hex), for "
        "example '20261127T110608Z-4f2a9' (see pin_versions() for the ids a pin has).",
    ),
    "run id": (
        _pattern_problem(RUN_ID_PATTERN),
        "A run id has the form 'YYYYmmddTHHMMSSZ-xxxxxxxx' (8 lowercase hex), as "
        "run.run_id and tracker.runs() give it.",
    ),
    "param key": (_key_problem, _KEY_RULE),
    "metric key": (_key_problem, _KEY_RULE),
    "tag key": (_key_problem, _KEY_RULE),
    "artifact name": (_key_problem, _KEY_RULE),
    "file name": (_file_problem, _FILE_RULE),
    # The registry: a name is a pin's (a folder of events); aliases and stages live inside
    # events and references (name@alias), so they are short, lowercase words.
    "registry name": (_new_pin_problem, _PIN_RULE.replace("A new pin name", "A name")),
    "alias name": (_pattern_problem(SLOT_PATTERN), _SLOT_RULE.format(what="An alias")),
    "stage name": (_pattern_problem(SLOT_PATTERN), _SLOT_RULE.format(what="A stage")),
    "alias or stage name": (
        _pattern_problem(SLOT_PATTERN),
        _SLOT_RULE.format(what="An alias or stage"),
    ),
}
IDENTIFIER_KINDS = tuple(_RULES)


def validate_identifier(value: object, kind: str) -> str:
    """Return ``value`` if it is a valid ``kind`` (one of `IDENTIFIER_KINDS`), else raise
    `InvalidNameError` naming the value, what is wrong and the rule."""
    problem_of, rule = _RULES[kind]
    if isinstance(value, str):
        problem = problem_of(value)
        if problem is None:
            return value
    else:
        problem = f"it must be a string, not {type(value).__name__}"
    what = kind.removeprefix("new ")
    raise InvalidNameError(f"invalid {what} {shown(value)}: {problem}. {rule}")


def shown(value: object, limit: int = 100) -> str:
    """``repr(value)``, cut short for a message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} characters)"


def validate_pin_name(name: object) -> str:
    """A pin name fit to read (or delete): one safe path component."""
    return validate_identifier(name, "pin name")


def validate_new_pin_name(name: object) -> str:
    """A pin name fit to write: also portable to every file system pins run on."""
    return validate_identifier(name, "new pin name")


def validate_version_id(version: object) -> str:
    """Return ``version`` if it has the ``YYYYmmddTHHMMSSZ-xxxxx`` form, else raise."""
    return validate_identifier(version, "version id")


def is_version_id(entry: str) -> bool:
    """True when a folder name is a version id (anything else in a pin folder is ignored)."""
    return VERSION_PATTERN.fullmatch(entry) is not None


def is_safe_component(entry: str) -> bool:
    """True when a listed entry can be joined to a store path (see `store_path_problem`)."""
    return bool(entry) and entry not in {".", ".."} and not any(c in entry for c in "/\\\0")


def folded(name: str) -> str:
    """The form two names share when a case-insensitive or normalising file system (or a
    reader) would take them for one: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def refuse_collision(name: str, existing: Iterable[str], where: str) -> None:
    """Refuse a new pin ``name`` that equals an existing entry after `folded`."""
    key = folded(name)
    for other in existing:
        if other != name and folded(other) == key:
            raise InvalidNameError(
                f"invalid pin name {shown(name)}: it differs from the existing pin {other!r} on "
                f"{where} only in case or Unicode form, so the two would share one folder on "
                "case-insensitive or normalising file systems (macOS, Windows) and be "
                f"confused by readers. Write to {other!r}, or pick a name that differs in "
                "more than case, accents' encoding or width."
            )


def store_path_problem(path: str) -> str | None:
    """Why a store path (``/``-separated, relative to the store's root) is unsafe, or None.

    Every segment must be a plain name: no empty, ``.`` or ``..`` segments, no
    leading ``/``, no backslash (a separator on Windows and Azure) and no NUL.
    """
    if "\0" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "it contains a backslash"
    if path.startswith("/"):
        return "it is absolute"
    for segment in path.split("/"):
        if not segment:
            return "it has an empty segment"
        if segment in {".", ".."}:
            return f"it has a {segment!r} segment"
    return None


def refuse_store_path(path: str, root: str) -> None:
    """Raise `InvalidNameError` if `store_path_problem` finds a problem in ``path``."""
    problem = store_path_problem(path)
    if problem:
        raise InvalidNameError(
            f"refusing store path {path!r} under {root}: {problem}; store paths are "
            "'/'-separated plain names below the board's root"
        )
