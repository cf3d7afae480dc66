"""The serving tests' model fixtures, for the UI tests that also start a serving app."""

from tests.serving.conftest import model, train

__all__ = ["model", "train"]
