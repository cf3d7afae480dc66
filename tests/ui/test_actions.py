"""Changing the registry through the UI: confirm step, stale forms, CSRF, read-only, and
the lineage pages, over a real uvicorn and a real folder board."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import pinyard
from pinyard.cli import main
from pinyard.ui import create_ui_app
from tests.serving.conftest import running
from tests.ui._board import Sweep, expected_of, form_fields, make_board


@pytest.fixture
def sweep(tmp_path: Path) -> Sweep:
    return make_board(tmp_path / "board")


@pytest.fixture
def client(sweep: Sweep) -> Iterator[httpx.Client]:
    with running(create_ui_app(sweep.board, user="carol")) as client:
        yield client


def post(client: httpx.Client, url: str, fields: dict[str, str]) -> httpx.Response:
    return client.post(url, data=fields, follow_redirects=True)


def champion(sweep: Sweep) -> str | None:
    return pinyard.Registry(sweep.board).aliases("ridge").get("champion")


def test_setting_an_alias_takes_a_confirm_step_and_records_the_ui_user(
    client: httpx.Client, sweep: Sweep
) -> None:
    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    fields.update(alias="champion", version=sweep.versions[0], reason="lower val_rmse")
    review = post(client, "/registry/ridge/confirm", fields)
    assert review.status_code == 200, review.text
    assert "nothing is recorded until you confirm" in review.text
    assert sweep.versions[1] in review.text  # from
    assert sweep.versions[0] in review.text  # to
    assert "carol" in review.text
    assert champion(sweep) == sweep.versions[1]  # the confirm step changed nothing
    final = form_fields_of_confirm(review.text)
    done = post(client, "/registry/ridge/apply", final)
    assert done.status_code == 200  # followed the 303 back to the name's page
    assert "Recorded event 2: set_alias champion" in done.text
    assert champion(sweep) == sweep.versions[0]
    event = pinyard.Registry(sweep.board).history("ridge")[-1]
    assert (event.actor, event.reason, event.op) == ("carol", "lower val_rmse", "set_alias")


def form_fields_of_confirm(page: str) -> dict[str, str]:
    import html

    match = re.search(r"<form class=confirm [^>]*>(.*?)</form>", page, re.S)
    assert match, "no confirm form"
    return {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', match[1])
    }


def test_promote_with_a_gate_records_its_evidence_or_its_refusal(
    client: httpx.Client, sweep: Sweep
) -> None:
    page = client.get("/registry/ridge").text
    gate = {"gate_data": "holdout", "gate_target": "y", "gate_metric": "rmse"}
    worse = {**form_fields(page, "promote"), "version": sweep.versions[2], "to": "champion",
             **gate}  # fmt: skip
    review = post(client, "/registry/ridge/confirm", worse)
    assert review.status_code == 200, review.text
    assert f"rmse on holdout:{sweep.holdout}" in review.text  # the latest, made exact
    refused = post(client, "/registry/ridge/apply", form_fields_of_confirm(review.text))
    assert refused.status_code == 409
    assert "refused" in refused.text
    assert champion(sweep) == sweep.versions[1]
    assert pinyard.Registry(sweep.board).history("ridge")[-1].op == "refused"
    better = {**form_fields(client.get("/registry/ridge").text, "promote"),
              "version": sweep.versions[0], "to": "champion", **gate}  # fmt: skip
    review = post(client, "/registry/ridge/confirm", better)
    done = post(client, "/registry/ridge/apply", form_fields_of_confirm(review.text))
    assert done.status_code == 200, done.text
    assert champion(sweep) == sweep.versions[0]
    event = pinyard.Registry(sweep.board).history("ridge")[-1]
    assert event.op == "promote"
    assert event.gate is not None
    assert event.gate["passed"] is True


def test_rollback_returns_the_alias_to_its_previous_holder(
    client: httpx.Client, sweep: Sweep
) -> None:
    pinyard.Registry(sweep.board, user="ana").set_alias("ridge", "champion", sweep.versions[2])
    fields = {**form_fields(client.get("/registry/ridge").text, "rollback"), "slot": "champion"}
    review = post(client, "/registry/ridge/confirm", fields)
    assert review.status_code == 200, review.text
    assert sweep.versions[1] in review.text
    done = post(client, "/registry/ridge/apply", form_fields_of_confirm(review.text))
    assert done.status_code == 200, done.text
    assert champion(sweep) == sweep.versions[1]
    assert pinyard.Registry(sweep.board).history("ridge")[-1].actor == "carol"


def test_a_stale_form_is_refused_and_says_who_moved_the_alias(
    client: httpx.Client, sweep: Sweep
) -> None:
    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    assert expected_of(fields) == {"champion": sweep.versions[1]}
    fields.update(alias="champion", version=sweep.versions[0])
    review = post(client, "/registry/ridge/confirm", fields)
    final = form_fields_of_confirm(review.text)
    pinyard.Registry(sweep.board, user="bob").set_alias(
        "ridge", "champion", sweep.versions[2], reason="hotfix"
    )
    for url, form in (("/registry/ridge/apply", final), ("/registry/ridge/confirm", fields)):
        stale = post(client, url, form)
        assert stale.status_code == 409, url
        assert "changed since the page loaded" in stale.text
        assert "by bob" in stale.text
        assert "hotfix" in stale.text
    assert champion(sweep) == sweep.versions[2]
    assert len(pinyard.Registry(sweep.board).history("ridge")) == 2


def test_a_new_alias_that_someone_else_created_meanwhile_is_refused(
    client: httpx.Client, sweep: Sweep
) -> None:
    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    fields.update(alias="challenger", version=sweep.versions[0])
    pinyard.Registry(sweep.board).set_alias("ridge", "challenger", sweep.versions[2])
    stale = post(client, "/registry/ridge/confirm", fields)
    assert stale.status_code == 409
    assert "held nothing then" in stale.text


def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(
    client: httpx.Client, sweep: Sweep
) -> None:
    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    fields.update(alias="champion", version=sweep.versions[0])
    forged = {k: v for k, v in fields.items() if k != "csrf"}
    for url in ("/registry/ridge/confirm", "/registry/ridge/apply"):
        assert post(client, url, forged).status_code == 403
        assert "CSRF" in post(client, url, {**fields, "csrf": "guess"}).text
    other = client.post(
        "/registry/ridge/apply", data=fields, headers={"Origin": "http://evil.example"}
    )
    assert other.status_code == 403
    assert "another site" in other.text
    as_json = client.post("/registry/ridge/apply", json=fields)
    assert as_json.status_code == 415
    assert champion(sweep) == sweep.versions[1]


def test_bad_form_values_are_refused_with_the_reason(client: httpx.Client, sweep: Sweep) -> None:
    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    cases = [
        ({"alias": "", "version": sweep.versions[0]}, 400, "needs an alias"),
        ({"alias": "bad/alias", "version": sweep.versions[0]}, 400, "bad/alias"),
        ({"alias": "champion", "version": "20990101T000000Z-00000"}, 404, "20990101T000000Z"),
        ({"op": "delete", "alias": "x", "version": sweep.versions[0]}, 400, "unknown action"),
        ({"expected": "{not json", "alias": "x", "version": sweep.versions[0]}, 400, "damaged"),
    ]
    for change, status, words in cases:
        answer = post(client, "/registry/ridge/confirm", {**fields, **change})
        assert answer.status_code == status, (change, answer.text[-400:])
        assert words in answer.text, change
    assert len(pinyard.Registry(sweep.board).history("ridge")) == 1


def test_read_only_hides_the_forms_and_refuses_changes(sweep: Sweep) -> None:
    with running(create_ui_app(sweep.board, user="carol")) as writable:
        fields = form_fields(writable.get("/registry/ridge").text, "set_alias")
    fields.update(alias="champion", version=sweep.versions[0])
    with running(create_ui_app(sweep.board, read_only=True)) as client:
        page = client.get("/registry/ridge").text
        assert "<form class=action" not in page
        assert "read-only" in page
        for url in ("/registry/ridge/confirm", "/registry/ridge/apply"):
            refused = post(client, url, fields)
            assert refused.status_code == 403
            assert "read-only" in refused.text
    assert champion(sweep) == sweep.versions[1]


def test_the_ui_user_comes_from_user_else_pinyard_user(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINYARD_USER", "dana")
    with running(create_ui_app(sweep.board)) as client:
        assert "changes recorded as dana" in client.get("/").text
    with running(create_ui_app(sweep.board, user="erin")) as client:
        assert "changes recorded as erin" in client.get("/").text


def test_a_token_guards_the_forms_too(sweep: Sweep) -> None:
    with running(create_ui_app(sweep.board, token="s3cret")) as client:
        assert client.post("/registry/ridge/apply", data={"op": "x"}).status_code == 401
        page = client.get("/registry/ridge", params={"token": "s3cret"}).text
        fields = {**form_fields(page, "set_alias"), "alias": "champion",
                  "version": sweep.versions[0]}  # fmt: skip
        review = post(client, "/registry/ridge/confirm", fields)  # the cookie carries it
        assert review.status_code == 200, review.text
    assert champion(sweep) == sweep.versions[1]


# -- lineage ---------------------------------------------------------------------------


def test_lineage_from_an_alias_to_its_run_data_and_commit_and_back(
    client: httpx.Client, sweep: Sweep
) -> None:
    record = pinyard.Tracker(sweep.board, "ridge").get_run(sweep.run_ids[1])
    page = client.get("/lineage/ridge@champion")
    assert page.status_code == 200, page.text
    assert f'href="/runs/ridge/{sweep.run_ids[1]}"' in page.text
    data_sha = record.data["sha256"]
    assert f'href="/lineage/data/{data_sha}"' in page.text
    commit = record.context.get("git_commit")
    if commit:  # the tests run in a git checkout; the page links the commit
        assert f'href="/lineage/commit/{commit}"' in page.text
    assert "alias @champion" in page.text
    back = client.get(f"/lineage/data/{data_sha}").text
    for run_id, version in zip(sweep.run_ids, sweep.versions, strict=True):
        assert run_id in back
        assert f'href="/lineage/ridge:{version}"' in back
    run = client.get(f"/runs/ridge/{sweep.run_ids[0]}").text
    assert f'href="/lineage/ridge:{sweep.versions[0]}"' in run
    api = client.get("/api/lineage/ridge@champion").json()
    assert api["run_id"] == sweep.run_ids[1]
    assert api["data"]["sha256"] == data_sha
    assert 'href="/lineage/ridge@champion"' in client.get("/registry/ridge").text
    assert 'href="/lineage/ridge:' in client.get(f"/pins/ridge/{sweep.versions[0]}").text


def test_lineage_of_a_version_no_run_made(client: httpx.Client, sweep: Sweep) -> None:
    page = client.get(f"/lineage/holdout:{sweep.holdout}")
    assert page.status_code == 200
    assert "No run is recorded for this version" in page.text


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/lineage/ridge@nobody", 404, "no version of 'ridge' holds 'nobody'"),
        ("/lineage/ridge:1", 400, "neither a version id"),
        ("/lineage/data/zz", 400, "not a hex digest"),
        ("/lineage/data/" + "0" * 64, 404, "no run on this board used data fingerprint"),
        ("/lineage/commit/" + "0" * 40, 404, "no run on this board used commit"),
        ("/pins/ridge%2Fevil", 400, "'ridge/evil' cannot be a name"),
        ("/api/pins/ridge%2Fevil", 400, "'ridge/evil' cannot be a name"),
        ("/pins/a/b/c", 404, "A pin name cannot contain '/'"),
        ("/runs/nope", 404, "experiment 'nope' does not exist on this board"),
        ("/api/runs/nope", 404, "experiment 'nope' does not exist"),
    ],
)
def test_bad_addresses_say_what_is_wrong(
    client: httpx.Client, url: str, status: int, words: str
) -> None:
    answer = client.get(url)
    assert answer.status_code == status, answer.text[-300:]
    assert words in (answer.json()["detail"] if "/api/" in url else html_text(answer.text))


def html_text(page: str) -> str:
    import html

    return html.unescape(page)


def test_the_cli_passes_read_only_and_user_and_refuses_without_a_token(
    sweep: Sweep, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ui", "--board", sweep.board.store.url, "--host", "0.0.0.0", "--read-only",
                 "--user", "carol"])  # fmt: skip
    assert code == 2
    assert "without a token" in capsys.readouterr().err


def test_errors_speak_of_the_form_not_of_python(client: httpx.Client, sweep: Sweep) -> None:
    registry = pinyard.Registry(sweep.board, user="ana")
    registry.configure(stages=["staging", "production"], require_reason=True, reason="rules")
    fields = form_fields(client.get("/registry/ridge").text, "promote")
    fields.update(version=sweep.versions[0], to="production")
    no_reason = post(client, "/registry/ridge/confirm", fields)
    assert no_reason.status_code == 400
    assert "fill in 'why'" in html_text(no_reason.text)
    review = post(client, "/registry/ridge/confirm", {**fields, "reason": "skip staging"})
    assert review.status_code == 200, review.text
    skipped = post(client, "/registry/ridge/apply", form_fields_of_confirm(review.text))
    assert skipped.status_code == 400
    text = html_text(skipped.text)
    assert "Tick 'out of stage order' to move it to 'production' anyway" in text
    assert "force=True" not in text
    forced = {**fields, "reason": "hotfix", "force": "1"}
    review = post(client, "/registry/ridge/confirm", forced)
    assert "out of the stage order" in review.text
    done = post(client, "/registry/ridge/apply", form_fields_of_confirm(review.text))
    assert done.status_code == 200, done.text
    event = pinyard.Registry(sweep.board).history("ridge")[-1]
    assert (event.slot, event.forced, event.actor) == ("production", True, "carol")


def test_a_move_between_the_stale_check_and_the_write_is_refused_too(
    client: httpx.Client, sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinyard.ui import _actions

    checked = _actions.check_not_stale

    def check_then_someone_moves_it(registry: pinyard.Registry, action: _actions.Action) -> object:
        state = checked(registry, action)  # the page is not stale yet ...
        pinyard.Registry(sweep.board, user="bob").set_alias(  # ... and now it is
            "ridge", "champion", sweep.versions[2], reason="hotfix"
        )
        return state

    fields = form_fields(client.get("/registry/ridge").text, "set_alias")
    fields.update(alias="champion", version=sweep.versions[0], reason="lower val_rmse")
    final = form_fields_of_confirm(post(client, "/registry/ridge/confirm", fields).text)
    monkeypatch.setattr(_actions, "check_not_stale", check_then_someone_moves_it)
    refused = post(client, "/registry/ridge/apply", final)
    assert refused.status_code == 409, refused.text
    assert "nothing was recorded" in refused.text
    assert champion(sweep) == sweep.versions[2]  # bob's move stands, carol's is not written
    assert [e.actor for e in pinyard.Registry(sweep.board).history("ridge")][-1] == "bob"
