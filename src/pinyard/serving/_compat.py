"""When a following server may swap to a new holder: it accepts every request the old one did.

The rule, per the served signature ``old`` and the candidate's ``new``:

* the same column names, in the same order, each of the same type;
* a column that accepts nulls in ``old`` accepts them in ``new`` (``new`` may
  accept nulls where ``old`` did not);
* a categorical column's categories in ``old`` are all categories in ``new``,
  or ``new`` takes any string; a plain string column stays a plain one;
* extra columns that ``old`` drops, ``new`` drops too;
* rows sent as lists (a ``numpy`` signature) stay accepted: ``old`` numpy
  means ``new`` numpy;
* every method the app serves (its endpoints, fixed at start) is one ``new``
  offers.

Outputs are not compared (a classifier with other classes answers with other
keys), nor is anything the model does with an accepted request.
"""

from __future__ import annotations

from collections.abc import Sequence

from pinyard.errors import SignatureError
from pinyard.models import Signature


def check_compatible(
    old: Signature,
    methods: Sequence[str],
    new: Signature,
    new_methods: Sequence[str],
    what: str = "the new model",
) -> None:
    """Raise `SignatureError` naming the first request the new model (``new``, offering
    ``new_methods``; called ``what`` in the message) would refuse that the served one
    (``old``, answering on ``methods``) accepts."""
    names, new_names = [c.name for c in old.columns], [c.name for c in new.columns]
    if names != new_names:
        raise SignatureError(
            f"{what} takes the columns {new_names}; the served model takes {names} "
            "(the same names in the same order are needed)",
            expected=", ".join(names),
            received=", ".join(new_names),
        )
    for was, now in zip(old.columns, new.columns, strict=True):
        problem = None
        if now.type != was.type:
            problem = f"is {now.type}"
        elif was.nullable and not now.nullable:
            problem = "refuses nulls"
        elif now.categories is not None and was.categories is None:
            problem = f"takes only the categories {list(now.categories)[:5]}"
        elif now.categories is not None and set(was.categories or ()) - set(now.categories):
            lost = sorted(set(was.categories or ()) - set(now.categories))
            problem = f"refuses the categories {lost[:5]}"
        if problem:
            raise SignatureError(
                f"{what}: column {now.name!r} {problem}; the served model takes {was.describe()}",
                column=now.name,
                expected=was.describe(),
                received=now.describe(),
            )
    if old.extra_columns == "drop" and new.extra_columns != "drop":
        raise SignatureError(
            f"{what} refuses extra columns, which the served model drops",
            expected="extra_columns='drop'",
            received=f"extra_columns={new.extra_columns!r}",
        )
    if old.container == "numpy" and new.container != "numpy":
        raise SignatureError(
            f"{what} takes a {new.container} table, so rows sent as lists (which "
            "the served numpy model takes) would be refused",
            expected="numpy",
            received=new.container,
        )
    missing = [m for m in methods if m not in new_methods]
    if missing:
        raise SignatureError(
            f"{what} has no {missing[0]!r} method, which the server answers on; it offers "
            f"{', '.join(new_methods)}",
            expected=", ".join(methods),
            received=", ".join(new_methods),
        )
