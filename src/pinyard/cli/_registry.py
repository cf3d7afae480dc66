"""``pinyard registry ...``: aliases, stages, gated promotion, rollback, history, verify.

Each action is one call into `pinyard.Registry`. Output is text for people,
or the API's own documents with ``--json``; errors are the CLI's one line
and exit code (see `pinyard.cli._main.EXIT_CODES`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pinyard.cli import _registry_reads as reads
from pinyard.cli._common import add_board, open_board, with_example
from pinyard.cli._render import Output, config_text, emit, event_doc, event_line, gate_lines
from pinyard.errors import InvalidArgumentError, PromotionRefusedError
from pinyard.registry import Event, MetricGate, Registry

Handler = Callable[[argparse.Namespace, Registry], Output | None]


def open_registry(args: argparse.Namespace) -> Registry:
    return Registry(open_board(args), user=getattr(args, "user", None))


def _run(handler: Handler) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        out = handler(args, open_registry(args))
        if out is not None:
            emit(args, out)

    return run


def _changed(registry: Registry, name: str, call: Callable[[], Event]) -> Output:
    """Run a write and describe its event; an alias set to what it holds writes none."""
    before = registry.state(name).seq
    event = call()
    changed = event.seq > before
    text = (
        event_line(event)
        if changed
        else (
            f"{event.name}@{event.slot} already holds {event.version} (event {event.seq}); "
            "nothing recorded"
        )
    )
    return Output({**event_doc(event), "changed": changed}, text)


# -- the write commands -------------------------------------------------------


def _set_alias(args: argparse.Namespace, registry: Registry) -> Output:
    return _changed(
        registry,
        args.name,
        lambda: registry.set_alias(args.name, args.alias, args.version, reason=args.reason),
    )


def _remove_alias(args: argparse.Namespace, registry: Registry) -> Output:
    return _changed(
        registry,
        args.name,
        lambda: registry.remove_alias(args.name, args.alias, reason=args.reason),
    )


def _transition(args: argparse.Namespace, registry: Registry) -> Output:
    return _changed(
        registry,
        args.name,
        lambda: registry.transition(
            args.name, args.version, args.stage, reason=args.reason, force=args.force
        ),
    )


def _rollback(args: argparse.Namespace, registry: Registry) -> Output:
    return _changed(
        registry,
        args.name,
        lambda: registry.rollback(args.name, args.slot, to=args.to, reason=args.reason),
    )


def gate_from(args: argparse.Namespace) -> MetricGate | None:
    """The built-in metric gate the promote flags describe (None: no gate flags)."""
    given = {
        flag: getattr(args, flag)
        for flag in ("data", "data_version", "target", "metric", "min_improvement", "threshold")
    }
    if all(value is None for value in given.values()):
        return None
    missing = [
        f"--{f.replace('_', '-')}" for f in ("data", "data_version", "target") if given[f] is None
    ]
    if missing:
        raise InvalidArgumentError(
            f"a gated promotion needs {', '.join(missing)}: --data PIN --data-version V "
            "(the frozen evaluation set at an exact version) --target COLUMN (its label)"
        )
    return MetricGate(
        args.data,
        version=args.data_version,
        target=args.target,
        metric=args.metric or "rmse",
        min_improvement=args.min_improvement or 0.0,
        threshold=args.threshold,
    )


def _promote(args: argparse.Namespace, registry: Registry) -> Output:
    gate = gate_from(args)
    try:
        out = _changed(
            registry,
            args.name,
            lambda: registry.promote(
                args.name, args.version, args.to, gate=gate, reason=args.reason, force=args.force
            ),
        )
    except PromotionRefusedError as exc:
        if args.json:  # the evidence for CI, then the error line and exit code
            emit(args, Output({"promoted": False, "evidence": exc.evidence}, None))
        raise
    lines = [out.text or "", *gate_lines(out.doc.get("gate"))]
    return Output({**out.doc, "promoted": True}, "\n".join(lines))


def _configure(args: argparse.Namespace, registry: Registry) -> Output:
    stages = None
    if args.stages is not None:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if args.no_archive and args.archive is not None:
        raise InvalidArgumentError("give either --archive STAGE or --no-archive, not both")
    archive = "" if args.no_archive else args.archive
    if stages is None and archive is None and args.require_reason is None:
        config = registry.config  # nothing to change: show the settings
    else:
        changes: dict[str, Any] = {"stages": stages, "require_reason": args.require_reason}
        if archive is not None:
            changes["archive"] = archive or None
        config = registry.configure(**changes, reason=args.reason)
    return Output(config.as_dict(), config_text(config.as_dict()))


# -- the parser ---------------------------------------------------------------


def _common(cmd: argparse.ArgumentParser, *, writes: bool) -> None:
    cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    if writes:
        cmd.add_argument(
            "--reason", metavar="TEXT", default="", help="why (recorded in the event)"
        )
        cmd.add_argument(
            "--user",
            metavar="USER",
            default=None,
            help="who acts (default: PINYARD_USER, else the login name)",
        )


#: The example each action's --help shows (docs/cli.md runs the same forms).
EXAMPLES = {
    "set-alias": "pinyard registry set-alias ./board churn champion 20261203T101500Z-ab12c "
    "--reason 'beat v3'",
    "remove-alias": "pinyard registry remove-alias ./board churn challenger",
    "transition": "pinyard registry transition ./board churn 20261203T101500Z-ab12c staging",
    "promote": "pinyard registry promote ./board churn 20261203T101500Z-ab12c production \\\n"
    "    --data churn-holdout --data-version 20261201T090000Z-0f3e1 --target churned",
    "rollback": "pinyard registry rollback ./board churn production --reason 'latency'",
    "configure": "pinyard registry configure ./board --stages staging,production "
    "--archive archived",
    "resolve": "pinyard registry resolve ./board churn@production",
    "history": "pinyard registry history ./board churn",
    "lineage": "pinyard registry lineage ./board churn@production",
    "verify": "pinyard registry verify ./board",
    "watch": "pinyard registry watch ./board churn --exec ./deploy.sh",
}


def add_registry_commands(sub: Any, epilog: str) -> None:
    """Register ``pinyard registry ACTION`` (``sub``: the top-level subparsers)."""
    layout = with_example(
        "Aliases and stages over exact versions, with gated promotion, rollback and a "
        "hash-chained history. References: NAME, NAME@ALIAS, NAME@STAGE, NAME:VERSION, "
        "NAME:HASH5.",
        f"{EXAMPLES['resolve']}\n{EXAMPLES['history']}",
        epilog,
    )
    layout["help"] = "Aliases and stages over exact versions: promote, roll back, audit."
    group = sub.add_parser("registry", **layout)
    actions = group.add_subparsers(dest="registry_command", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, text: str, *, writes: bool) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = actions.add_parser(
            name, **with_example(text, EXAMPLES[name], epilog)
        )
        cmd.set_defaults(handler=_run(handler))
        add_board(cmd)
        _common(cmd, writes=writes)
        return cmd

    cmd = add("set-alias", _set_alias, "Point an alias at a version.", writes=True)
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd.add_argument("alias", metavar="ALIAS", help="alias, e.g. champion")
    cmd.add_argument("version", metavar="VERSION", help="version id or its 5-hex hash")
    cmd = add(
        "remove-alias", _remove_alias, "Remove an alias (rollback restores it).", writes=True
    )
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd.add_argument("alias", metavar="ALIAS", help="alias to remove")
    cmd = add(
        "transition", _transition, "Move a version to a stage, in the board's order.", writes=True
    )
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd.add_argument("version", metavar="VERSION", help="version id or its 5-hex hash")
    cmd.add_argument("stage", metavar="STAGE", help="stage, e.g. staging")
    cmd.add_argument("--force", action="store_true", help="skip the order (recorded as forced)")
    cmd = add(
        "promote",
        _promote,
        "Give a version an alias or stage if a metric gate finds it better than the holder.",
        writes=True,
    )
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd.add_argument("version", metavar="VERSION", help="candidate version id or its 5-hex hash")
    cmd.add_argument("to", metavar="TO", help="alias or stage to promote to, e.g. production")
    cmd.add_argument("--force", action="store_true", help="skip the stage order (not the gate)")
    gate = cmd.add_argument_group("metric gate (scores candidate and holder on a frozen pin)")
    gate.add_argument("--data", metavar="PIN", default=None, help="evaluation set pin (a table)")
    gate.add_argument("--data-version", metavar="V", default=None, help="its exact version id")
    gate.add_argument(
        "--target", metavar="COL", default=None, help="label column; the others are inputs"
    )
    gate.add_argument(
        "--metric",
        metavar="NAME",
        default=None,
        help="rmse (default), mae, accuracy, log_loss or roc_auc",
    )
    gate.add_argument(
        "--min-improvement",
        metavar="X",
        type=float,
        default=None,
        help="required margin over the holder, in the metric's units",
    )
    gate.add_argument(
        "--threshold",
        metavar="Y",
        type=float,
        default=None,
        help="score to reach when nothing holds the target yet",
    )
    cmd = add(
        "rollback", _rollback, "Move an alias or stage back to its previous holder.", writes=True
    )
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd.add_argument("slot", metavar="SLOT", help="alias or stage, e.g. production")
    cmd.add_argument(
        "--to",
        metavar="VERSION",
        default=None,
        help="an earlier holder instead of the previous one",
    )
    cmd = add("configure", _configure, "Show or change the board's stages and rules.", writes=True)
    cmd.add_argument(
        "--stages", metavar="A,B,C", default=None, help="ordered stages, comma-separated"
    )
    cmd.add_argument(
        "--archive", metavar="STAGE", default=None, help="the archive stage (holds many versions)"
    )
    cmd.add_argument("--no-archive", action="store_true", help="have no archive stage")
    cmd.add_argument(
        "--require-reason",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse changes without --reason",
    )
    reads.add_read_commands(add)
