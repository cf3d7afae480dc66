"""Every error pinyard raises, in one tree.

::

    PinyardError
    ├── InvalidArgumentError      (also ValueError)   an argument has a value that cannot work
    │   ├── InvalidNameError                          a name or id that is unsafe or malformed
    │   ├── QueryError                                a run filter that does not parse
    │   ├── SignatureError                            data that does not match a model's signature
    │   ├── UnsupportedModelError                     an object no prediction handler can call
    │   ├── InvalidReferenceError                     a reference that does not parse, or ambiguous
    │   ├── StageOrderError                           a stage transition out of order without force
    │   ├── HashMismatchError                         pin_read(hash=) names another version's hash
    │   └── GateError                                 a promotion gate that cannot score
    ├── NotFoundError             (also KeyError)
    │   ├── BoardNotFoundError                        no board at that location
    │   ├── PinNotFoundError                          no pin of that name
    │   ├── VersionNotFoundError                      the pin has no such committed version
    │   ├── RunNotFoundError                          the experiment has no run of that id
    │   └── AliasNotFoundError                        nothing holds that alias or stage
    ├── NotAPinyardBoardError                         a non-empty folder that is no board at all
    ├── BoardFormatError                              pinyard.json is missing fields or too new
    ├── MetadataError                                 a data.txt is truncated, malformed or too new
    ├── IntegrityError                                bytes do not match their recorded digest
    │   ├── UnverifiedError                           no digest to check, and the read needs one
    │   └── ChainError                                registry events edited, removed or reordered
    ├── InsecureReadError                             a pickle read the board was not allowed
    ├── UnsupportedTypeError      (also ValueError,   no serializer of that type, or one that
    │                              NotImplementedError) cannot read or write this (as pins)
    ├── SerializationError                            the type cannot hold this object
    ├── ProtectedVersionError                         a deletion refused by a protection hook
    ├── PromotionRefusedError                         a gate found the candidate no better
    ├── ConflictError                                 another writer created the same version first
    ├── RunStateError                                 logging to a run that has ended
    ├── EnvironmentMismatchError                      a model loaded with strict=True elsewhere
    └── StorageError              (also OSError)      the storage backend failed

    UnverifiedVersionWarning      (a UserWarning)     a version read without a digest check
    EnvironmentMismatchWarning    (a UserWarning)     a model loaded where packages differ

Where pins-python raises a builtin exception, the pinyard error is also an
instance of it, so ``except`` clauses written for pins keep working: names and
arguments (``ValueError``), types pins cannot read or write
(``NotImplementedError``), missing pins and versions (``KeyError``; pins raises
its own ``PinsError``, whose messages say "<name> does not exist" as ours do).

Every error carries a message that names the thing that was wrong and what
would be right. Errors from the libraries below pinyard are translated at the
board boundary; none leaks through untranslated.
"""

from __future__ import annotations

__all__ = [
    "AliasNotFoundError",
    "BoardFormatError",
    "BoardNotFoundError",
    "ChainError",
    "ConflictError",
    "EnvironmentMismatchError",
    "EnvironmentMismatchWarning",
    "GateError",
    "HashMismatchError",
    "InsecureReadError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidReferenceError",
    "MetadataError",
    "NotAPinyardBoardError",
    "NotFoundError",
    "PinNotFoundError",
    "PinyardError",
    "PromotionRefusedError",
    "ProtectedVersionError",
    "QueryError",
    "RunNotFoundError",
    "RunStateError",
    "SerializationError",
    "SignatureError",
    "StageOrderError",
    "StorageError",
    "UnsupportedModelError",
    "UnsupportedTypeError",
    "UnverifiedError",
    "UnverifiedVersionWarning",
    "VersionNotFoundError",
]


class PinyardError(Exception):
    """Base class of every error pinyard raises on purpose."""


class InvalidArgumentError(PinyardError, ValueError):
    """An argument whose value cannot work (for example ``n=0`` for a prune)."""


class InvalidNameError(InvalidArgumentError):
    """A name or id (pin, version, experiment, run, key, file) that breaks the rules of
    ``pinyard.boards._names``: empty, too long, unportable, or able to escape its folder."""


class QueryError(InvalidArgumentError):
    """A run filter with a syntax error, an unknown column or an impossible comparison."""


class SignatureError(InvalidArgumentError):
    """Data that does not match a model's signature, or a prototype pinyard cannot describe.

    ``column`` names the column at fault (None when the whole input is wrong),
    ``expected`` and ``received`` describe what the signature wants and what came.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        expected: str | None = None,
        received: str | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.expected = expected
        self.received = received


class UnsupportedModelError(InvalidArgumentError):
    """An object no prediction handler can call (no ``predict``, not callable)."""


class InvalidReferenceError(InvalidArgumentError):
    """A model reference (``name@alias``, ``name:VERSION``, ``name:HASH5``) that does not
    parse, or a hash prefix that more than one version shares."""


class StageOrderError(InvalidArgumentError):
    """A stage transition that skips or reverses the board's stage order (``force=True``
    makes it, recorded as forced)."""


class HashMismatchError(InvalidArgumentError):
    """``pin_read(..., hash=)`` asked for a hash the version does not have. Nothing is
    damaged: the caller expected another version."""


class GateError(InvalidArgumentError):
    """A promotion gate that cannot score: its evaluation data lacks a column, the
    metric is unknown, or a model cannot produce what the metric needs."""


class NotFoundError(PinyardError, KeyError):
    """Something asked for by name does not exist."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep ours readable.
        return str(self.args[0]) if self.args else ""


class BoardNotFoundError(NotFoundError):
    """No board exists at the given location."""


class PinNotFoundError(NotFoundError):
    """The board has no pin of that name."""


class VersionNotFoundError(NotFoundError):
    """The pin exists but has no committed version of that id."""


class RunNotFoundError(NotFoundError):
    """The experiment has no run of that id."""


class AliasNotFoundError(NotFoundError):
    """No version holds that alias or stage (at the time asked for, with ``as_of``)."""


class NotAPinyardBoardError(PinyardError):
    """A non-empty location with neither ``pinyard.json`` nor pins in it (a plain pins
    board opens as one, see `pinyard.board_folder`)."""


class BoardFormatError(PinyardError):
    """``pinyard.json`` cannot be read, or was written by a newer pinyard."""


class MetadataError(PinyardError):
    """A version's ``data.txt`` is truncated, malformed, or of an unsupported api_version."""


class IntegrityError(PinyardError):
    """Bytes read from the board do not match the digest recorded when they were written."""


class UnverifiedError(IntegrityError):
    """The version records no digest pinyard can check, and the read needs one (pickles)."""


class ChainError(IntegrityError):
    """A registry name's event chain is broken: an event was edited, removed, inserted
    or reordered. ``seq`` is the first event at fault (None: the folder as a whole)."""

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class InsecureReadError(PinyardError):
    """Reading the version would unpickle it, and this board was not allowed to (pins'
    ``PinsInsecureReadError``): open it with ``allow_pickle_read=True`` or set
    ``PINS_ALLOW_PICKLE_READ=1``. ``pin`` and ``pin_type`` name what was refused."""

    def __init__(self, message: str, *, pin: str = "", pin_type: str = "") -> None:
        super().__init__(message)
        self.pin, self.pin_type = pin, pin_type


class UnsupportedTypeError(PinyardError, ValueError, NotImplementedError):
    """No serializer is registered under that type name, or it cannot do what was asked
    (write a read-only type, read a ``file`` pin): pins raises NotImplementedError there."""


class SerializationError(PinyardError):
    """The chosen type cannot hold this object (for example a set as JSON)."""


class ProtectedVersionError(PinyardError):
    """A protection hook (an alias, stage or deployment) refused a deletion."""


class PromotionRefusedError(PinyardError):
    """A gate refused a promotion. ``evidence`` holds what it measured (both scores,
    the metric, the threshold, the data version); the refusal is recorded as an event."""

    def __init__(self, message: str, *, evidence: dict[str, object]) -> None:
        super().__init__(message)
        self.evidence = evidence

    @property
    def candidate_score(self) -> object:
        """The candidate's score on the evaluation set (None for a custom gate)."""
        return self.evidence.get("candidate_score")

    @property
    def holder_score(self) -> object:
        """The current holder's score (None when nothing held the target)."""
        return self.evidence.get("holder_score")


class ConflictError(PinyardError):
    """Another writer committed a different version under the same id first."""


class RunStateError(PinyardError):
    """Logging to a run that has already ended (finished runs never change)."""


class EnvironmentMismatchError(PinyardError):
    """A model loaded with ``strict=True`` where Python or package versions differ."""


class StorageError(PinyardError, OSError):
    """The storage backend failed; the message names the path and the cause."""


class UnverifiedVersionWarning(UserWarning):
    """A version was read without a digest check (pins' multi-file hashes, for example)."""


class EnvironmentMismatchWarning(UserWarning):
    """A model was loaded where Python or package versions differ from where it was written."""
