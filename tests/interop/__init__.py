"""Interop tests: pinyard against the real pins-python and R pins' on-disk format."""
