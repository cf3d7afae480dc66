"""A local web UI over one board: pins, the registry's timeline, and runs with charts.

``pinyard ui --board URL`` serves it on 127.0.0.1; every page is rendered on
the server and every asset ships inside the package, so it works offline.
"""

from pinyard.ui._app import create_ui_app

__all__ = ["create_ui_app"]
