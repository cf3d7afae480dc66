"""Models: a fitted model with its prediction signature, environment and lineage.

::

    from pinyard.models import ModelBundle

    bundle = ModelBundle(model, prototype=X_train, run=run)
    board.pin_write(bundle, "price-model")          # vetiver can load it too
    bundle = ModelBundle.from_pin(board, "price-model", version)
    bundle.predict(new_rows)                         # checked against the signature

Needs the ``data`` and ``joblib`` extras (pyarrow, pandas, joblib).
"""

from pinyard.models._bundle import ModelBundle
from pinyard.models._handlers import Handler, register_handler
from pinyard.models._signature import Column, Signature

__all__ = ["Column", "Handler", "ModelBundle", "Signature", "register_handler"]
