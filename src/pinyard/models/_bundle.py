"""`ModelBundle`: a fitted model with its signature, environment and lineage."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pinyard.boards import PinMeta, PinPayload
from pinyard.errors import (
    EnvironmentMismatchError,
    EnvironmentMismatchWarning,
    IntegrityError,
    InvalidArgumentError,
    SignatureError,
)
from pinyard.models._environment import capture_environment, environment_differences
from pinyard.models._handlers import Handler, handler_for, handler_named
from pinyard.models._signature import ExtraColumns, Signature
from pinyard.models._vetiver import environment_from_vetiver, signature_from_vetiver, vetiver_meta

if TYPE_CHECKING:
    from pinyard.boards import Board

BUNDLE_KEY = "pinyard_bundle"
BUNDLE_FORMAT = 1


class ModelBundle:
    """A fitted model made self-describing: what it takes, where it was built, what made it.

    ``ModelBundle(model, prototype=X_train)`` infers the signature (column
    names, Arrow types, nullability, categories) from data shaped like the
    model's input; only types and a made-up example row are kept, unless
    ``examples`` gives rows (or ``"prototype"`` to keep the prototype's first
    rows). ``run`` (a tracking run) fills the lineage: run id, params,
    metrics, code commit, data fingerprint and seed.

    ``board.pin_write(bundle, "name")`` stores it as a ``joblib`` pin that
    vetiver's ``VetiverModel.from_pin`` also loads; `ModelBundle.from_pin`
    reads it (and pins written by ``vetiver_pin_write``) back.
    """

    def __init__(
        self,
        model: Any,
        *,
        prototype: Any,
        metadata: Mapping[str, Any] | None = None,
        run: Any = None,
        examples: Any = None,
        extra_columns: ExtraColumns = "reject",
        description: str | None = None,
    ) -> None:
        self.handler: Handler = handler_for(model)
        if isinstance(prototype, Signature):
            self.signature = prototype
        else:
            self.signature = Signature.from_prototype(
                prototype, examples=examples, extra_columns=extra_columns
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(f"metadata must be a mapping, got {type(metadata)!r}")
        lineage = getattr(run, "lineage", None)
        if run is not None and not callable(lineage):
            raise InvalidArgumentError(
                "run= takes a tracking run (tracker.start_run(...) or tracker.get_run(id)), "
                f"got {type(run).__qualname__}"
            )
        self.model = model
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.description = description
        self.environment: dict[str, Any] = capture_environment(model)
        self.lineage: dict[str, Any] = dict(lineage()) if callable(lineage) else {}
        #: set when the bundle was read from a board
        self.pin: PinMeta | None = None
        self.sha256: str | None = None

    # -- predicting ----------------------------------------------------------------------

    @property
    def methods(self) -> tuple[str, ...]:
        """The prediction methods this model offers; the first is ``predict``'s default."""
        return self.handler.methods(self.model)

    def predict(self, data: Any, method: str | None = None) -> Any:
        """Check ``data`` against the signature, convert it losslessly to what the model
        was trained on, and call the model (``method`` e.g. ``"predict_proba"``)."""
        table = self.signature.validate(data)
        return self.predict_validated(table, method)

    def predict_validated(self, table: Any, method: str | None = None) -> Any:
        """Call the model on a table that `Signature.validate` returned."""
        name = self._method(method)
        return self.handler.call(self.model, name, self.signature.to_model_input(table))

    def _method(self, method: str | None) -> str:
        methods = self.methods
        if method is None:
            return methods[0]
        if method not in methods:
            raise InvalidArgumentError(
                f"this {type(self.model).__qualname__} has no method {method!r}; it offers "
                f"{', '.join(methods)}"
            )
        return method

    # -- storing ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Everything recorded with the bundle, as stored in the pin's metadata."""
        return {
            "format": BUNDLE_FORMAT,
            "handler": self.handler.name,
            "methods": list(self.methods),
            "signature": self.signature.to_dict(),
            "environment": self.environment,
        }

    def __pin_payload__(self) -> PinPayload:
        """What ``board.pin_write(bundle, name)`` stores: the bare model (so pins and
        vetiver can read it) with the bundle's description in the metadata."""
        user = {
            "user": self.metadata,
            "vetiver_meta": vetiver_meta(self.signature, self.environment),
            BUNDLE_KEY: self.describe(),
        }
        title = f"a {type(self.model).__qualname__} model with its signature"
        return PinPayload(self.model, "joblib", user, title, self.description, dict(self.lineage))

    @classmethod
    def from_pin(
        cls,
        board: Board,
        name: str,
        version: str | None = None,
        *,
        strict: bool = False,
        sha256: str | None = None,
    ) -> ModelBundle:
        """Read a bundle (or a pin written by ``vetiver_pin_write``) from ``board``.

        Loading unpickles the model, so ``board`` must allow it (``allow_pickle_read=True``
        or ``PINS_ALLOW_PICKLE_READ=1``, as in pins; else `InsecureReadError`).
        The model file is verified before it is unpickled, and must have the
        digest ``sha256`` when one is given. If Python or a recorded package
        differs here, an `EnvironmentMismatchWarning` lists the differences;
        with ``strict=True`` an `EnvironmentMismatchError` is raised instead.
        Every check happens before anything is unpickled.
        """
        stored = StoredBundle.read(board, name, version)
        meta = stored.meta
        board.check_pickle_read(name, meta.type)  # before anything is downloaded
        _check_environment(stored.environment, name, meta.version, strict)
        digest = stored.sha256(board)
        if sha256 is not None and digest != sha256.lower():
            raise IntegrityError(
                f"model {name!r} version {meta.version} has sha256 {digest}, not the expected "
                f"{sha256}; refusing to load it"
            )
        # The read is pinned to the checked digest (pins-written versions: to their pin_hash,
        # which pin_download verified while computing the digest).
        model = board.pin_read(name, meta.version, hash=digest if meta.files else meta.pin_hash)
        bundle = cls.__new__(cls)
        bundle.model = model
        bundle.handler = handler_named(stored.handler_name) or handler_for(model)
        if not bundle.handler.matches(model):
            bundle.handler = handler_for(model)
        bundle.signature = stored.signature
        bundle.environment = stored.environment
        user_meta = meta.user.get("user")
        bundle.metadata = dict(user_meta) if isinstance(user_meta, Mapping) else {}
        bundle.description = meta.description
        bundle.lineage = dict(meta.lineage)
        bundle.pin = meta
        bundle.sha256 = digest
        return bundle

    def __repr__(self) -> str:
        where = f" {self.pin.name}@{self.pin.version}" if self.pin else ""
        return (
            f"<ModelBundle{where}: {type(self.model).__qualname__}, "
            f"{len(self.signature.columns)} columns>"
        )


@dataclass(frozen=True)
class StoredBundle:
    """What a bundle's pin records, read from its metadata alone (nothing unpickled)."""

    meta: PinMeta
    signature: Signature
    environment: dict[str, Any]
    handler_name: str

    @classmethod
    def read(cls, board: Board, name: str, version: str | None) -> StoredBundle:
        """The stored description of a bundle pin (or a vetiver pin)."""
        meta = board.pin_meta(name, version)
        user = meta.user
        stored = user.get(BUNDLE_KEY)
        if isinstance(stored, Mapping):
            return cls(
                meta,
                Signature.from_dict(stored.get("signature") or {}),
                dict(stored.get("environment") or {}),
                str(stored.get("handler") or ""),
            )
        if "vetiver_meta" in user or "ptype" in user:
            return cls(
                meta, signature_from_vetiver(user, name), environment_from_vetiver(user), ""
            )
        raise SignatureError(
            f"pin {name!r} version {meta.version} is not a model bundle (no {BUNDLE_KEY!r} "
            "or vetiver metadata); write it with "
            "board.pin_write(ModelBundle(model, prototype=...), name)"
        )

    def sha256(self, board: Board) -> str:
        """The model file's sha256: recorded by pinyard, else computed from the file
        (verified against its pins hash on the way)."""
        if self.meta.files:
            return self.meta.files[0].sha256
        (path,) = board.pin_download(self.meta.name, self.meta.version)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def _check_environment(
    environment: Mapping[str, Any], name: str, version: str, strict: bool
) -> None:
    differences = environment_differences(environment)
    if not differences:
        return
    text = f"model {name!r} version {version} was written elsewhere: " + "; ".join(differences)
    if strict:
        raise EnvironmentMismatchError(
            text + ". Install the recorded versions (bundle requirements) or load with "
            "strict=False to accept the risk"
        )
    warnings.warn(text, EnvironmentMismatchWarning, stacklevel=3)
