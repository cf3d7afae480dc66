"""Test helpers that ship with pinyard: the board contract suite.

Run it against any board backend with a short subclass::

    from pinyard.testing import BoardTests

    class TestMyBoard(BoardTests):
        def make_board(self, tmp_path):
            return pinyard.board("myfs://bucket/path")

        def overwrite(self, board, path, data):
            ...  # replace one stored object's bytes behind the board's back

Requires pytest (and pandas/pyarrow for the table tests).
"""

from pinyard.testing._board_tests import BoardTests

__all__ = ["BoardTests"]
