"""Bad input: each a typed error that names the thing at fault and says what is right."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard import errors
from pinyard.registry import GateContext, HttpHook, MetricGate, Registry, parse_reference
from tests.registry.conftest import pin_regressor, regression_data


def test_an_unknown_name(registry: Registry, versions: list[str]) -> None:
    with pytest.raises(
        errors.PinNotFoundError, match=r"pin '?nope'? does not exist.*pins there: m"
    ):
        registry.set_alias("nope", "champion", versions[0])
    # found writing this test: resolve said "set one with registry.set_alias" for a pin
    # that does not exist, and history answered [] as if the name were known
    with pytest.raises(errors.PinNotFoundError, match=r"nope'? does not exist.*pins there: m"):
        registry.resolve("nope@champion")
    with pytest.raises(errors.PinNotFoundError, match=r"nope'? does not exist"):
        registry.resolve("nope@champion", as_of=datetime.now(UTC))
    with pytest.raises(errors.PinNotFoundError, match=r"nope'? does not exist"):
        registry.history("nope")
    assert registry.history("m") == []  # a pin nothing registered yet has an empty history


def test_an_unknown_alias_names_what_is_held(registry: Registry, versions: list[str]) -> None:
    with pytest.raises(errors.AliasNotFoundError, match="no version of 'm' holds 'champion'"):
        registry.resolve("m@champion")
    registry.set_alias("m", "canary", versions[0])
    with pytest.raises(errors.AliasNotFoundError, match=r"holds 'champion' \(held now: canary\)"):
        registry.resolve("m@champion")
    with pytest.raises(errors.InvalidArgumentError, match="'m' has no alias 'champion' to remove"):
        registry.remove_alias("m", "champion")


def test_an_unknown_version(registry: Registry, versions: list[str]) -> None:
    missing = "20200101T000000Z-abcde"
    latest = re.escape(f"the latest is '{versions[-1]}'")
    with pytest.raises(errors.VersionNotFoundError, match=f"no version '{missing}'.*{latest}"):
        registry.set_alias("m", "champion", missing)
    with pytest.raises(errors.VersionNotFoundError, match=f"no version '{missing}'"):
        registry.resolve(f"m:{missing}")
    with pytest.raises(errors.VersionNotFoundError, match="no version with hash 'abcde'"):
        registry.transition("m", "abcde", "staging")
    with pytest.raises(errors.VersionNotFoundError, match="no version with hash 'abcde'"):
        registry.resolve("m:abcde")
    registry.set_alias("m", "champion", versions[0])
    with pytest.raises(errors.VersionNotFoundError, match=f"no version '{missing}'"):
        registry.rollback("m", "champion", to=missing)


def test_an_ambiguous_hash(registry: Registry, board: pinyard.Board, versions: list[str]) -> None:
    """Two version folders whose ids share the 5-hex hash, made by hand."""
    pins = Path(board.store.url) / "pins" / "m"
    twin = f"20300101T000000Z-{versions[0][-5:]}"
    shutil.copytree(pins / versions[0], pins / twin)
    hash5 = versions[0][-5:]
    words = rf"hash '{hash5}' is ambiguous.*{versions[0]}, {twin} share it; use the full version"
    with pytest.raises(errors.InvalidReferenceError, match=words):
        registry.resolve(f"m:{hash5}")
    with pytest.raises(errors.InvalidReferenceError, match=words):
        registry.set_alias("m", "champion", hash5)
    assert registry.resolve(f"m:{twin}").version == twin  # the full id is not ambiguous
    assert registry.set_alias("m", "champion", versions[0]).version == versions[0]


def test_an_alias_named_like_a_stage(registry: Registry, versions: list[str]) -> None:
    words = r"'production' is a stage of this board \(staging -> production -> archived\)"
    with pytest.raises(errors.InvalidNameError, match=f"{words}, not an alias: use transition"):
        registry.set_alias("m", "production", versions[0])
    with pytest.raises(errors.InvalidNameError, match=f"{words}, so it cannot be an alias"):
        registry.remove_alias("m", "production")
    with pytest.raises(errors.InvalidArgumentError, match="'champion' is not a stage of this"):
        registry.transition("m", versions[0], "champion")
    registry.set_alias("m", "qa", versions[0])
    with pytest.raises(errors.InvalidNameError, match="'qa' is an alias of 'm'; a stage cannot"):
        registry.configure(stages=["qa", "production"])


@pytest.mark.parametrize("alias", ["Champion", "9lives", "a b", "x" * 64, "", "a/b"])
def test_an_alias_that_is_no_alias_name(
    registry: Registry, versions: list[str], alias: str
) -> None:
    with pytest.raises(
        errors.InvalidNameError, match=f"invalid alias name {re.escape(repr(alias))}"
    ):
        registry.set_alias("m", alias, versions[0])


def test_a_stage_out_of_order(registry: Registry, versions: list[str]) -> None:
    v0 = versions[0]
    words = (
        f"version {v0} is in stage none; the order is staging -> production -> archived, so "
        "it can move to 'staging' next. Pass force=True to move it to 'production' anyway "
        "(recorded as forced)"
    )
    with pytest.raises(errors.StageOrderError, match=re.escape(words)):
        registry.transition("m", v0, "production")
    with pytest.raises(errors.StageOrderError, match="force=True"):
        registry.promote("m", v0, "production", gate=lambda context: True)
    assert registry.history("m") == []  # nothing was recorded
    registry.transition("m", v0, "staging")
    registry.transition("m", v0, "production")
    with pytest.raises(errors.StageOrderError, match="'staging'") as backwards:
        registry.transition("m", v0, "staging")
    assert "is in stage production" in str(backwards.value)
    assert "the archive" in str(backwards.value)
    forced = registry.transition("m", v0, "staging", force=True, reason="re-test")
    assert forced.forced is True
    assert registry.history("m")[-1].forced is True  # type: ignore[union-attr]
    with pytest.raises(errors.InvalidArgumentError, match=f"{v0} is already in stage 'staging'"):
        registry.transition("m", v0, "staging", force=True)


def test_a_gate_whose_evaluation_data_lacks_a_column(
    registry: Registry, board: pinyard.Board
) -> None:
    frame = regression_data()
    champion = pin_regressor(board, LinearRegression(), frame)
    no_label = board.pin_write(frame.drop(columns=["y"]), "eval").version
    gate = MetricGate("eval", version=no_label, target="y", metric="rmse")
    words = f"evaluation set 'eval' version {no_label} has no column 'y' to score against"
    with pytest.raises(errors.GateError, match=re.escape(words) + r".*columns: a, b"):
        registry.promote("m", champion, "champion", gate=gate)
    no_feature = board.pin_write(frame.drop(columns=["b"]), "eval").version
    gate = MetricGate("eval", version=no_feature, target="y")
    with pytest.raises(errors.GateError, match=r"cannot be scored by m version .*'b'"):
        registry.promote("m", champion, "champion", gate=gate)
    assert registry.history("m") == []  # a gate that cannot score records nothing


def test_a_gate_that_answers_neither_bool_nor_result(
    registry: Registry, versions: list[str]
) -> None:
    with pytest.raises(errors.GateError, match="must return a bool or a GateResult, got 'yes'"):
        registry.promote("m", versions[0], "champion", gate=lambda context: "yes")  # type: ignore[arg-type, return-value]


def test_metric_gates_built_wrong(versions: list[str]) -> None:
    v0 = versions[0]
    with pytest.raises(errors.GateError, match="unknown metric 'f1'; use one of accuracy, log_lo"):
        MetricGate("eval", version=v0, target="y", metric="f1")
    with pytest.raises(errors.InvalidArgumentError, match="needs higher_is_better=True or False"):
        MetricGate("eval", version=v0, target="y", metric=lambda y, p: 0.0)
    with pytest.raises(errors.InvalidArgumentError, match="min_improvement must be a number >= 0"):
        MetricGate("eval", version=v0, target="y", min_improvement=-1)
    with pytest.raises(errors.InvalidNameError, match="invalid version id 'latest'"):
        MetricGate("eval", version="latest", target="y")
    with pytest.raises(errors.GateError, match="metric must be a name or a callable, got 3"):
        MetricGate("eval", version=v0, target="y", metric=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        ("", "a model reference must be 'name', 'name@alias'"),
        (None, "a model reference must be .* got None"),
        (3, "a model reference must be .* got 3"),
        ("m@", "invalid alias or stage name ''.* in reference 'm@'"),
        ("m@Prod", "invalid alias or stage name 'Prod'.* in reference 'm@Prod'"),
        ("m@@x", "'m@@x' names more than one of alias, stage and version"),
        ("m@champion:abcde", "names more than one of alias, stage and version"),
        ("m:", "'' is neither a version id .* nor its 5-hex hash"),
        ("m:xyz", "'xyz' is neither a version id"),
        ("m:ABCDE", "'ABCDE' is neither a version id"),
        ("m:20261203T101500Z", "is neither a version id"),
        ("@champion", "invalid pin name '': it is empty.* in reference '@champion'"),
        (":abcde", "invalid pin name ''.* in reference ':abcde'"),
        ("a/b@champion", "it contains a path separator.* in reference 'a/b@champion'"),
        ("../m:abcde", "path separator"),
    ],
)
def test_a_reference_with_bad_syntax(registry: Registry, reference: object, words: str) -> None:
    """Found writing this test: a bad alias part raised InvalidNameError, not the
    InvalidReferenceError parse_reference promises (the name part already did)."""
    with pytest.raises(errors.InvalidReferenceError, match=words):
        parse_reference(reference)
    with pytest.raises(errors.InvalidReferenceError, match=words):
        registry.resolve(reference)  # type: ignore[arg-type]


def test_references_that_parse(versions: list[str]) -> None:
    assert parse_reference("m") == pinyard.registry.Reference("m")
    assert parse_reference("m@champion").slot == "champion"
    assert parse_reference(f"m:{versions[0]}").version == versions[0]
    assert parse_reference("m:abcde").hash == "abcde"
    assert str(parse_reference("m@champion")) == "m@champion"
    assert str(parse_reference("m:abcde")) == "m:abcde"


def test_an_empty_reason_where_the_board_requires_one(
    registry: Registry, versions: list[str]
) -> None:
    registry.configure(require_reason=True)  # the setting itself needs none
    words = "this board requires a reason for every registry change: pass reason='...'"
    for reason in ("", "   "):
        with pytest.raises(errors.InvalidArgumentError, match=re.escape(words)):
            registry.set_alias("m", "champion", versions[0], reason=reason)
    with pytest.raises(errors.InvalidArgumentError, match="saying why 'm' changes"):
        registry.transition("m", versions[0], "staging")
    event = registry.set_alias("m", "champion", versions[0], reason="ticket 12")
    assert event.reason == "ticket 12"
    registry.set_alias("m", "champion", versions[1], reason="ticket 13")
    with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
        registry.rollback("m", "champion")
    with pytest.raises(errors.InvalidArgumentError, match="reason must be text, got 3"):
        registry.set_alias("m", "canary", versions[0], reason=3)  # type: ignore[arg-type]


def test_as_of_before_the_first_event(registry: Registry, versions: list[str]) -> None:
    with pytest.raises(errors.AliasNotFoundError, match="'m' has no registry events yet"):
        registry.resolve("m@champion", as_of=datetime.now(UTC))
    first = registry.set_alias("m", "champion", versions[0])
    before = first.at - timedelta(seconds=1)
    words = f"as_of {before.strftime('%Y-%m-%dT%H:%M:%S')}.* is before the first registry event"
    with pytest.raises(errors.AliasNotFoundError, match=words):
        registry.resolve("m@champion", as_of=before)
    with pytest.raises(errors.InvalidArgumentError, match="'yesterday' is not an ISO 8601 time"):
        registry.resolve("m@champion", as_of="yesterday")
    with pytest.raises(errors.InvalidArgumentError, match="as_of= applies to an alias or stage"):
        registry.resolve(f"m:{versions[0]}", as_of=first.at)


def test_rollback_with_nothing_to_roll_back_to(registry: Registry, versions: list[str]) -> None:
    registry.set_alias("m", "champion", versions[0])
    with pytest.raises(
        errors.InvalidArgumentError,
        match=f"'champion' of 'm' has held only {versions[0]}; there is nothing to roll back",
    ):
        registry.rollback("m", "champion")
    with pytest.raises(errors.InvalidArgumentError, match="'m' has no alias or stage 'canary'"):
        registry.rollback("m", "canary")


def test_rollback_to_a_version_that_never_held_the_slot(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1, v2 = versions[:3]
    registry.set_alias("m", "champion", v0)
    registry.set_alias("m", "champion", v1)
    words = f"{v2} never held 'champion' of 'm' before (earlier holders: {v0}); use set_alias"
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(words)):
        registry.rollback("m", "champion", to=v2)
    with pytest.raises(errors.InvalidArgumentError, match=f"{v1} never held"):
        registry.rollback("m", "champion", to=v1)  # the holder now is no earlier holder


def test_a_registry_on_a_plain_pins_board(tmp_path: Path) -> None:
    (tmp_path / "pins").mkdir()
    pins = pinyard.board_pins(tmp_path / "pins")
    with pytest.raises(errors.InvalidArgumentError, match="the registry needs a pinyard board"):
        Registry(pins)
    with pytest.raises(errors.InvalidArgumentError, match="import it with pinyard import-pins"):
        Registry("/some/folder")  # type: ignore[arg-type]


def test_a_registry_name_with_an_at_sign(registry: Registry, board: pinyard.Board) -> None:
    version = board.pin_write({"v": 1}, "m@2", type="json").version
    words = "pin 'm@2' cannot be registered: '@' separates a name from an alias"
    with pytest.raises(errors.InvalidNameError, match=words):
        registry.set_alias("m@2", "champion", version)
    with pytest.raises(errors.InvalidNameError, match="rename the pin without '@'"):
        registry.history("m@2")
    with pytest.raises(errors.InvalidNameError, match="'@' separates"):
        registry.state("m@2")


@pytest.mark.parametrize(
    ("stages", "words"),
    [
        (["qa", "qa"], r"stage names must differ, got \['qa', 'qa', 'archived'\]"),
        ([], "a board needs at least one stage before the archive"),
        (["Prod"], "invalid stage name 'Prod'"),
        (["staging", "archived"], "stage names must differ"),
    ],
)
def test_stages_configured_wrong(registry: Registry, stages: list[str], words: str) -> None:
    with pytest.raises((errors.InvalidArgumentError, errors.InvalidNameError), match=words):
        registry.configure(stages=stages)
    assert list(registry._board_chain().events()) == []


def test_a_stage_that_holds_a_version_cannot_be_dropped(
    registry: Registry, versions: list[str]
) -> None:
    registry.transition("m", versions[0], "staging")
    words = "stage 'staging' still holds a version of 'm'; move it to another stage before"
    with pytest.raises(errors.InvalidArgumentError, match=words):
        registry.configure(stages=["production"])


def test_an_http_hook_needs_an_http_url() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="needs an http\\(s\\):// URL, got 'ftp"):
        HttpHook("ftp://example.org/hook")


def test_a_gate_context_is_what_the_gate_sees(registry: Registry, versions: list[str]) -> None:
    seen: list[GateContext] = []
    registry.promote("m", versions[0], "champion", gate=lambda c: seen.append(c) is None)
    (context,) = seen
    assert (context.name, context.target, context.candidate, context.holder) == (
        "m", "champion", versions[0], None,
    )  # fmt: skip
