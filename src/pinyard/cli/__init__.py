"""The ``pinyard`` command: parse, call the public API, map errors to exit codes."""

from pinyard.cli._main import main

__all__ = ["main"]
