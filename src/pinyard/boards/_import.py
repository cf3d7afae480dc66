"""Copying a plain pins board into a pinyard board, verifying every file."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field, replace

from pinyard.boards._board import Board
from pinyard.boards._hashing import FileDigest, HashingWriter
from pinyard.boards._meta import META_FILENAME, FileRecord, PinMeta
from pinyard.boards._names import is_version_id, refuse_collision, validate_new_pin_name
from pinyard.boards._reading import check_file, check_pins_hash
from pinyard.boards._writing import READ_CHUNK, same_content
from pinyard.errors import ConflictError, InvalidArgumentError, UnverifiedVersionWarning

log = logging.getLogger("pinyard")


@dataclass
class ImportReport:
    """What `import_pins` did, version by version."""

    imported: list[tuple[str, str]] = field(default_factory=list)
    already_present: list[tuple[str, str]] = field(default_factory=list)
    unverified: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"imported {len(self.imported)} version(s), {len(self.already_present)} already "
            f"present, {len(self.unverified)} imported without a checkable pins hash"
        )


def import_pins(
    source: Board | str | os.PathLike[str], dest: Board | str | os.PathLike[str]
) -> ImportReport:
    """Copy every version of every pin of a plain pins board into a pinyard board.

    Each file is hashed while it is copied and checked against the version's
    ``pin_hash`` (an `IntegrityError` stops the import before that version is
    published); versions whose hash pins' rules cannot reproduce (R's
    multi-file hashes) are imported with a warning and listed in the report.
    Version ids are kept. Running it again copies only what is missing.
    """
    from pinyard.boards._constructors import board, board_pins

    src = source if isinstance(source, Board) else board_pins(source)
    dst = dest if isinstance(dest, Board) else board(dest)
    if dst.kind != "pinyard":
        raise InvalidArgumentError(f"import destination {dst.store.url} must be a pinyard board")
    names = src.pin_list()
    _check_names(names, dst)  # all of them first: an import is refused, not half done
    report = ImportReport()
    for name in names:
        for info in src.pin_versions(name, as_df=False):
            if not is_version_id(info.version):  # pins' old format: no id to keep
                log.warning(
                    "pin %r version %r is in pins' old format (no version id); not imported: "
                    "read it with board_pins and write it to the new board",
                    name,
                    info.version,
                )
                continue
            _import_version(src, dst, src.pin_meta(name, info.version), report)
    log.info("import from %s: %s", src.store.url, report)
    return report


def _check_names(names: list[str], dst: Board) -> None:
    """Each pin name must be valid for a new pin, and a pin new to ``dst`` must not
    collide (case, Unicode form) with one there or with another being imported."""
    known = set(dst.store.list_names(dst._pins))
    for name in names:
        validate_new_pin_name(name)
        if name not in known:
            refuse_collision(name, known, dst.store.url)
            known.add(name)


def _import_version(src: Board, dst: Board, meta: PinMeta, report: ImportReport) -> None:
    key = (meta.name, meta.version)
    pin_dir = dst._pin_dir(meta.name)
    target = f"{pin_dir}/{meta.version}"
    if dst.store.exists(f"{target}/{META_FILENAME}"):
        # Imported before: compared, not copied again. (An object store's exclusive
        # create takes an identical data.txt for its own lost answer, so publishing
        # again would report the version as newly imported.)
        existing = dst._read_meta(meta.name, meta.version)
        if existing.pin_hash != meta.pin_hash or existing.file_names != meta.file_names:
            raise ConflictError(
                f"pin {meta.name!r} version {meta.version} already exists in {dst.store.url} "
                "with different content; it was not overwritten"
            )
        report.already_present.append(key)
        return
    staging = dst.store.new_staging(pin_dir)
    try:
        digests: list[FileDigest] = []
        for file_name in meta.file_names:
            with (
                src.store.open_read(
                    f"{src._pin_dir(meta.name)}/{meta.version}/{file_name}"
                ) as stream,
                staging.open_sink(file_name) as sink,
            ):
                writer = HashingWriter(sink)
                with writer:
                    while chunk := stream.read(READ_CHUNK):
                        writer.write(chunk)
            digests.append(writer.digest)
        if meta.written_by_pinyard:
            for index, digest in enumerate(digests):
                check_file(meta, index, digest)
            verified = True
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnverifiedVersionWarning)
                verified = check_pins_hash(meta, digests)
        imported = replace(
            meta,
            file_sizes=tuple(d.size for d in digests),
            files=tuple(
                FileRecord(n, d.size, d.sha256)
                for n, d in zip(meta.file_names, digests, strict=True)
            ),
            lineage={
                **meta.lineage,
                "imported_from": src.store.url,
                "pins_hash_verified": verified,
            },
        )
        try:
            staging.publish(target, META_FILENAME, imported.to_data_txt())
        except FileExistsError:
            existing = dst._read_meta(meta.name, meta.version)
            if not same_content(imported, existing):
                raise ConflictError(
                    f"pin {meta.name!r} version {meta.version} already exists in {dst.store.url} "
                    "with different content; it was not overwritten"
                ) from None
            report.already_present.append(key)
            return
        report.imported.append(key)
        if not verified:
            report.unverified.append(key)
            warnings.warn(
                f"pin {meta.name!r} version {meta.version} was imported without a checkable "
                f"pins hash ({meta.pin_hash}); its sha256 is recorded from now on",
                UnverifiedVersionWarning,
                stacklevel=3,
            )
    finally:
        staging.discard()
