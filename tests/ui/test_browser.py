"""The UI in a real browser: Debian's chromium driven by Playwright, over a real uvicorn
and a real folder board. Every page opens without console errors, at desktop and at
phone width; the filter, promotion and rollback are used as a person would, and the
board is checked afterwards through the Python API. Screenshots go to
build/ui-screenshots/ (with PINYARD_UPDATE_DOC_SCREENSHOTS=1, a few are copied into
docs/images/ for docs/ui.md)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

import pinyard
from pinyard.ui import create_ui_app
from tests.serving.conftest import running
from tests.ui._board import Sweep, make_board

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "ui-screenshots"
DOC_IMAGES = REPO / "docs" / "images"
#: Screenshots docs/ui.md shows, refreshed with PINYARD_UPDATE_DOC_SCREENSHOTS=1.
FOR_DOCS = ("pins", "runs", "registry", "confirm", "lineage", "runs-phone")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(scripts/test.sh installs it, or run 'apt-get install -y chromium')"
        )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    return make_board(tmp_path_factory.mktemp("browser") / "board")


@pytest.fixture(scope="module")
def base(sweep: Sweep) -> Iterator[str]:
    with running(create_ui_app(sweep.board, user="carol")) as client:
        yield str(client.base_url)


class Console:
    """Errors a page logged: console.error calls, uncaught exceptions, failed loads."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console = Console(page)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    if os.environ.get("PINYARD_UPDATE_DOC_SCREENSHOTS") == "1" and name in FOR_DOCS:
        DOC_IMAGES.mkdir(exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / f"ui-{name}.png")


def pages(sweep: Sweep) -> dict[str, str]:
    runs = sweep.run_ids
    data_sha = pinyard.Tracker(sweep.board, "ridge").get_run(runs[0]).data["sha256"]
    return {
        "pins": "/",
        "pin": "/pins/ridge",
        "version": f"/pins/ridge/{sweep.versions[0]}",
        "registry-list": "/registry",
        "registry": "/registry/ridge",
        "experiments": "/runs",
        "runs": "/runs/ridge",
        "run": f"/runs/ridge/{runs[0]}?key=loss",
        "compare": f"/runs/ridge/compare?run={runs[0]},{runs[1]}&key=loss",
        "lineage": "/lineage/ridge@champion",
        "data": f"/lineage/data/{data_sha}",
    }


def test_every_page_opens_without_console_errors(page: Any, base: str, sweep: Sweep) -> None:
    for name, path in pages(sweep).items():
        response = page.goto(base + path)
        assert response.status == 200, (path, response.status)
        assert page.locator("h1").is_visible()
        assert page.locator("header nav a").count() == 3
        shot(page, name)
        assert page.console.errors == [], (path, page.console.errors)


@pytest.mark.parametrize("width", [375, 320])
def test_every_page_fits_a_phone(browser: Any, base: str, sweep: Sweep, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 740}, is_mobile=True)
    page = context.new_page()
    console = Console(page)
    for name, path in pages(sweep).items():
        page.goto(base + path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than a {width}px screen"
        main_box = page.locator("main").bounding_box()
        assert main_box["width"] <= width, path
        if width == 375 and name in ("runs", "registry", "lineage"):
            shot(page, f"{name}-phone")
    assert console.errors == []
    context.close()


def test_the_runs_filter_good_and_bad(page: Any, base: str) -> None:
    page.goto(base + "/runs/ridge")
    assert page.get_by_text("3 runs · page 1 of 1").first.is_visible()
    page.fill("input[name=where]", "params.lambda >= 1")
    page.click("form.inline button:has-text('Filter')")
    assert page.get_by_text("2 runs · page 1 of 1").first.is_visible()
    page.fill("input[name=where]", "params.lambda >=")
    page.click("form.inline button:has-text('Filter')")
    error = page.locator("[role=alert]")
    assert error.is_visible()
    assert "expected a value" in error.inner_text()
    assert page.input_value("input[name=where]") == "params.lambda >="  # kept for fixing
    shot(page, "runs-bad-filter")
    assert page.console.errors == []


def test_the_pin_search_good_and_bad(page: Any, base: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=q]", "^hold")
    page.click("button:has-text('Search')")
    assert page.locator("td a", has_text="holdout").is_visible()
    assert page.locator("td a", has_text="ridge").count() == 0
    page.fill("input[name=q]", "(")
    page.click("button:has-text('Search')")
    assert "not a valid regular expression" in page.locator("[role=alert]").inner_text()
    assert page.console.errors == []


def test_promote_with_a_gate_then_roll_back_through_the_ui(
    page: Any, base: str, sweep: Sweep
) -> None:
    registry = pinyard.Registry(sweep.board)
    before = registry.aliases("ridge")["champion"]
    assert before == sweep.versions[1]
    page.goto(base + "/registry/ridge")
    shot(page, "registry")
    promote = page.locator("form[data-op=promote]")
    promote.locator("select[name=version]").select_option(sweep.versions[0])
    promote.locator("input[name=to]").fill("champion")
    promote.locator("input[name=gate_data]").fill("holdout")
    promote.locator("input[name=gate_target]").fill("y")
    promote.locator("input[name=reason]").fill("lower rmse on the holdout")
    promote.locator("button").click()
    assert page.url.endswith("/registry/ridge/confirm")
    assert "nothing is recorded until you confirm" in page.inner_text("main")
    shot(page, "confirm")
    assert registry.aliases("ridge")["champion"] == before  # not yet
    page.click("button.primary")
    assert "Recorded event" in page.locator("[role=status]").inner_text()
    assert registry.aliases("ridge")["champion"] == sweep.versions[0]
    event = registry.history("ridge")[-1]
    assert (event.op, event.actor, event.reason) == ("promote", "carol",
                                                     "lower rmse on the holdout")  # fmt: skip
    assert event.gate is not None
    assert event.gate["passed"] is True
    assert "rmse" in page.inner_text("main")  # the timeline shows the gate's verdict

    rollback = page.locator("form[data-op=rollback]")
    rollback.locator("select[name=slot]").select_option("champion")
    rollback.locator("input[name=reason]").fill("undo")
    rollback.locator("button").click()
    assert before in page.inner_text("main")
    page.click("button.primary")
    assert "Recorded event" in page.locator("[role=status]").inner_text()
    assert registry.aliases("ridge")["champion"] == before
    assert registry.history("ridge")[-1].op == "rollback"
    assert page.console.errors == []


def test_a_stale_form_is_refused_in_the_page(page: Any, base: str, sweep: Sweep) -> None:
    page.goto(base + "/registry/ridge")
    holder = pinyard.Registry(sweep.board).aliases("ridge")["champion"]
    other = next(v for v in sweep.versions if v != holder)
    pinyard.Registry(sweep.board, user="bob").set_alias(
        "ridge", "champion", other, reason="moved meanwhile"
    )
    form = page.locator("form[data-op=set_alias]")
    form.locator("input[name=alias]").fill("champion")
    form.locator("select[name=version]").select_option(holder)
    form.locator("button").click()
    error = page.locator("[role=alert]").inner_text()
    assert "changed since the page loaded" in error
    assert "bob" in error
    shot(page, "stale")
    assert pinyard.Registry(sweep.board).aliases("ridge")["champion"] == other
    # Chromium logs the 409 answer as a failed resource; nothing else may appear.
    assert all("409" in text for text in page.console.errors), page.console.errors


def test_read_only_shows_no_forms(browser: Any, sweep: Sweep) -> None:
    with running(create_ui_app(sweep.board, read_only=True)) as client:
        page = browser.new_page()
        page.goto(f"{client.base_url}/registry/ridge")
        assert page.locator("form.action").count() == 0
        assert page.locator("button").count() == 0
        assert "read-only" in page.inner_text("header")
        shot(page, "registry-read-only")
        page.close()


def test_docs_show_the_screenshots() -> None:
    text = (REPO / "docs" / "ui.md").read_text()
    shown = re.findall(r"\(images/(ui-[\w-]+\.png)\)", text)
    assert {f"ui-{n}.png" for n in FOR_DOCS} <= set(shown)
    for name in shown:
        assert (DOC_IMAGES / name).stat().st_size > 1000, name
