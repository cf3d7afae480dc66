"""Bring an existing pins board (written by R pins or pins-python) into pinyard.

Needs: pip install pinyard        (no extra: files are copied and verified, not parsed)
Run:   python examples/import_pins_board.py PINS_BOARD_FOLDER PINYARD_BOARD_FOLDER
"""

from __future__ import annotations

import sys

import pinyard


def main(source: str, dest: str) -> None:
    # Read it where it is: the same reads, with pins' hashes checked.
    legacy = pinyard.board_pins(source)
    print("pins on the legacy board:", legacy.pin_list())

    # Or copy it, verifying every file and recording sha256 digests from now on.
    report = pinyard.import_pins(source, dest)
    print(report)
    board = pinyard.board_folder(dest)
    for name in board.pin_list():
        meta = board.pin_meta(name)
        print(f"{name}: {meta.version} {meta.type} sha256 {meta.files[0].sha256[:12]}…")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
