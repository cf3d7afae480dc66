"""Changing the registry from the UI: set an alias, promote with a gate, roll back.

Every change takes two steps. A form on a name's registry page posts to
``/registry/NAME/confirm``, which changes nothing and shows what would happen;
its Confirm button posts the same fields to ``/registry/NAME/apply``, which
records the event as the UI's user. Both steps check, against the registry as
it is at that moment, that the alias or stage still holds what the page
showed when it loaded (the ``expected`` field); if it moved, the change is
refused and the page says who moved it, when and to what.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pinyard.boards import Board
from pinyard.errors import ConflictError, InvalidArgumentError, StageOrderError
from pinyard.registry import Event, MetricGate, Registry, State, parse_reference
from pinyard.registry._gates import METRICS
from pinyard.ui._html import e, error_box, pairs

OPS = ("set_alias", "promote", "rollback")
OP_TITLES = {"set_alias": "Set an alias", "promote": "Promote", "rollback": "Roll back"}
#: The form fields each action reads; anything else in a posted form is ignored.
FIELDS = (
    "op", "alias", "version", "to", "slot", "reason", "force", "expected",
    "gate_data", "gate_version", "gate_target", "gate_metric", "gate_min_improvement",
)  # fmt: skip


@dataclass(frozen=True)
class Action:
    """One change asked for in a form, checked for shape (not yet against the registry)."""

    op: str
    name: str
    slot: str
    version: str | None
    reason: str
    force: bool
    expected: dict[str, str]
    gate: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, name: str, form: dict[str, str]) -> Action:
        op = form.get("op", "")
        if op not in OPS:
            raise InvalidArgumentError(f"unknown action {op!r}; the UI offers {', '.join(OPS)}")
        try:
            expected = json.loads(form.get("expected") or "{}")
        except ValueError:
            expected = None
        if not isinstance(expected, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in expected.items()
        ):
            raise InvalidArgumentError(
                "the form's expected field is damaged: reload the page and try again"
            )
        slot = (form.get("alias") if op == "set_alias" else form.get(
            "to" if op == "promote" else "slot")) or ""  # fmt: skip
        slot = slot.strip().removeprefix("@")
        if not slot:
            what = {"set_alias": "an alias", "promote": "where to promote to",
                    "rollback": "the alias or stage to roll back"}[op]  # fmt: skip
            raise InvalidArgumentError(f"the form needs {what}")
        version = (form.get("version") if op != "rollback" else form.get("to")) or None
        if op != "rollback" and not version:
            raise InvalidArgumentError("the form needs the version to move to")
        gate = {k: form[k].strip() for k in FIELDS if k.startswith("gate_") and form.get(k)}
        if op == "promote" and gate and not gate.get("gate_data"):
            raise InvalidArgumentError(
                "a gate needs the pin of evaluation data (leave every gate field empty to "
                "promote without a gate)"
            )
        return cls(op, name, slot, version and version.strip(), form.get("reason", ""),
                   form.get("force") == "1", expected, gate)  # fmt: skip

    def fields(self) -> dict[str, str]:
        """The form fields that ask for this action again (the confirm page's hidden ones)."""
        out = {"op": self.op, "reason": self.reason, "expected": json.dumps(self.expected)}
        out[{"set_alias": "alias", "promote": "to", "rollback": "slot"}[self.op]] = self.slot
        if self.version:
            out["version" if self.op != "rollback" else "to"] = self.version
        if self.force:
            out["force"] = "1"
        return {**out, **self.gate}


def holders(state: State) -> dict[str, str]:
    """What each alias and stage holds now: the ``expected`` field of a page's forms."""
    return {**state.aliases, **state.stage_holders()}


def check_not_stale(registry: Registry, action: Action) -> State:
    """The name's state now, if ``action``'s slot still holds what its page showed;
    else `ConflictError` saying who moved it, when and to what. (Also refuses a form
    without a reason on a board that requires one, in the form's words.)"""
    if registry.config.require_reason and not action.reason.strip():
        raise InvalidArgumentError(
            "this board requires a reason for every registry change: fill in 'why'"
        )
    state = registry.state(action.name)
    now = holders(state).get(action.slot)
    then = action.expected.get(action.slot)
    if now == then:
        return state
    was = f"held {then}" if then else "held nothing"
    moved = _last_change(registry, action.name, action.slot)
    raise ConflictError(
        f"refused: {action.slot!r} of {action.name!r} changed since the page loaded: it "
        f"{was} then and holds {now or 'nothing'} now{moved}. Nothing was changed; "
        "reload the page, check, and try again."
    )


def _last_change(registry: Registry, name: str, slot: str) -> str:
    for event in reversed(registry.history(name)):
        if event.slot == slot and event.op != "refused":
            why = f": {event.reason!r}" if event.reason else ""
            return f" (event {event.seq}, {event.op} by {event.actor} at {event.time}{why})"
    return ""


def resolve(registry: Registry, action: Action) -> dict[str, str]:
    """What the action would do, in words (for the confirm page), checking every name
    and version it refers to; raises the registry's own errors for a wrong one."""
    parse_reference(f"{action.name}@{action.slot}")  # a well-formed alias or stage name
    state = check_not_stale(registry, action)
    board = registry.board
    now = holders(state).get(action.slot)
    facts = {"name": action.name, "recorded as": registry.user}
    if action.op == "rollback":
        slot = state.find(action.slot)
        if slot is None:
            raise InvalidArgumentError(
                f"{action.name!r} has no alias or stage {action.slot!r} to roll back"
            )
        target = registry.version_id(action.name, action.version) if action.version else None
        back = target or slot.previous()
        if back is None:
            raise InvalidArgumentError(
                f"{action.slot!r} of {action.name!r} has held only {now}; there is nothing "
                "to roll back to"
            )
        facts.update({"roll back": action.slot, "from": now or "nothing", "to": back})
    else:
        version = registry.version_id(action.name, action.version or "")
        label = "alias" if action.op == "set_alias" else "promote to"
        facts.update({label: action.slot, "from": now or "nothing", "to": version})
        if action.force:
            facts["force"] = "yes: out of the stage order, recorded as forced"
    if action.gate:
        gate = gate_of(board, action)
        facts["gate"] = (
            f"{gate.metric_name} on {gate.data}:{gate.version}, label {gate.target!r}, "
            f"better by at least {gate.min_improvement:g}"
        )
    facts["reason"] = action.reason or "(none given)"
    return facts


def gate_of(board: Board, action: Action) -> MetricGate:
    """The `MetricGate` the form describes; an empty gate version means the evaluation
    pin's latest, made exact here so the confirm page shows what will be used."""
    data = action.gate["gate_data"]
    version = action.gate.get("gate_version") or board.pin_meta(data).version
    try:
        improvement = float(action.gate.get("gate_min_improvement") or 0)
    except ValueError:
        raise InvalidArgumentError(
            f"the gate's minimum improvement must be a number, got "
            f"{action.gate['gate_min_improvement']!r}"
        ) from None
    return MetricGate(
        data,
        version=version,
        target=action.gate.get("gate_target") or "",
        metric=action.gate.get("gate_metric") or "rmse",
        min_improvement=improvement,
    )


def apply(registry: Registry, action: Action) -> Event:
    """Record the action (after the stale check); the registry's errors pass through."""
    check_not_stale(registry, action)
    # and again where the event is written, so a move between the two is refused too
    expected = action.expected.get(action.slot)
    if action.op == "set_alias":
        return registry.set_alias(
            action.name, action.slot, action.version or "", reason=action.reason,
            expected=expected,
        )  # fmt: skip
    if action.op == "rollback":
        return registry.rollback(action.name, action.slot, to=action.version,
                                 reason=action.reason, expected=expected)  # fmt: skip
    gate = gate_of(registry.board, action) if action.gate else None
    return registry.promote(
        action.name,
        action.version or "",
        to=action.slot,
        gate=gate,
        reason=action.reason,
        force=action.force,
        expected=expected,
    )


# -- HTML ------------------------------------------------------------------------


def hidden(values: dict[str, str]) -> str:
    return "".join(f'<input type=hidden name="{e(k)}" value="{e(v)}">' for k, v in values.items())


def forms(board: Board, name: str, state: State, csrf: str) -> str:
    """The three action forms of a name's registry page (each goes to a confirm step)."""
    versions = [i.version for i in board.pin_versions(name, as_df=False)]
    slots = holders(state)
    keep = hidden({"csrf": csrf, "expected": json.dumps(slots)})
    options = "".join(f"<option>{e(v)}</option>" for v in reversed(versions))
    stages = list(dict.fromkeys([*Registry(board).config.all_stages, *slots]))
    slot_list = (
        "<datalist id=slots>" + "".join(f"<option>{e(s)}</option>" for s in stages) + "</datalist>"
    )
    metrics = "".join(
        f"<option{' selected' if m == 'rmse' else ''}>{e(m)}</option>" for m in METRICS
    )
    action = f"/registry/{e(name)}/confirm"

    def form(op: str, body: str) -> str:
        return (
            f'<form class=action method=post action="{action}" data-op="{op}">'
            f"<h3>{e(OP_TITLES[op])}</h3>{keep}{hidden({'op': op})}{body}"
            "<label>why <input type=text name=reason></label>"
            "<button>Review…</button></form>"
        )

    set_alias = form(
        "set_alias",
        "<label>alias <input type=text name=alias required "
        'placeholder="champion"></label>'
        f"<label>version <select name=version>{options}</select></label>",
    )
    promote = form(
        "promote",
        f"<label>version <select name=version>{options}</select></label>"
        "<label>to <input type=text name=to list=slots required "
        'placeholder="production"></label>'
        "<fieldset><legend>gate (optional)</legend>"
        "<label>evaluation pin <input type=text name=gate_data></label>"
        '<label>its version <input type=text name=gate_version placeholder="latest"></label>'
        "<label>label column <input type=text name=gate_target></label>"
        f"<label>metric <select name=gate_metric>{metrics}</select></label>"
        '<label>better by at least <input type=text name=gate_min_improvement value="0">'
        "</label></fieldset>"
        "<label class=check><input type=checkbox name=force value=1> out of stage order "
        "(recorded as forced)</label>",
    )
    rollback_options = "".join(f"<option>{e(s)}</option>" for s in slots) or "<option></option>"
    rollback = form(
        "rollback",
        f"<label>alias or stage <select name=slot>{rollback_options}</select></label>"
        "<label>to an earlier holder <input type=text name=to "
        'placeholder="the one before"></label>',
    )
    return (
        "<h2>Change</h2><div class=actions>"
        + slot_list
        + set_alias
        + promote
        + (rollback if slots else "")
        + "</div>"
    )


def confirm_page(name: str, action: Action, facts: dict[str, str], csrf: str) -> str:
    """What the change would do, and the button that records it."""
    return (
        f"<p>Check the change to <b>{e(name)}</b>; nothing is recorded until you confirm.</p>"
        + pairs(facts)
        + f'<form class=confirm method=post action="/registry/{e(name)}/apply">'
        + hidden({"csrf": csrf, **action.fields()})
        + f"<button class=primary>Confirm: {e(OP_TITLES[action.op].lower())}</button> "
        + f'<a href="/registry/{e(name)}">Cancel</a></form>'
    )


def refused(name: str, message: str) -> str:
    return error_box(message) + f'<p><a href="/registry/{e(name)}">Back to {e(name)}</a></p>'


def in_form_words(exc: Exception) -> str:
    """An error of the registry, with its Python advice said as the form's controls."""
    text = str(exc)
    if isinstance(exc, StageOrderError):
        text = re.sub(
            r"Pass force=True to (.*) anyway", r"Tick 'out of stage order' to \1 anyway", text
        )
    return text
