"""The UI's pages: pins and their versions, the registry, lineage, and runs."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from pinyard.ui import _lineage_pages as lineage_pages
from pinyard.ui import _pins_pages as pins_pages
from pinyard.ui import _runs_pages as runs_pages
from pinyard.ui._site import Site


def add_page_routes(app: FastAPI, site: Site) -> None:
    """Register the HTML pages (none is in the OpenAPI schema)."""
    board, html = site.board, site.html

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def pins(q: str | None = None) -> HTMLResponse:
        return html("Pins", lambda: pins_pages.pins_list(board, q))

    @app.get("/pins/{name}", response_class=HTMLResponse, include_in_schema=False)
    def versions(name: str, verify: str | None = None) -> HTMLResponse:
        return html(f"Pin {name}", lambda: pins_pages.versions_page(board, name, verify))

    @app.get("/pins/{name}/{version}", response_class=HTMLResponse, include_in_schema=False)
    def version(name: str, version: str) -> HTMLResponse:
        return html(f"{name} {version}", lambda: pins_pages.version_page(board, name, version))

    @app.get("/registry", response_class=HTMLResponse, include_in_schema=False)
    def registry() -> HTMLResponse:
        return html("Registry", lambda: pins_pages.registry_list(board))

    @app.get("/registry/{name}", response_class=HTMLResponse, include_in_schema=False)
    def registry_name(name: str, done: str | None = None) -> HTMLResponse:
        form_token = None if site.read_only else site.csrf
        return html(
            f"Registry: {name}", lambda: pins_pages.registry_page(board, name, form_token, done)
        )

    # -- lineage -------------------------------------------------------------------

    @app.get("/lineage/data/{sha256}", response_class=HTMLResponse, include_in_schema=False)
    def data_lineage(sha256: str) -> HTMLResponse:
        return html(
            f"Runs on data {sha256[:12]}",
            lambda: lineage_pages.runs_by(board, "data_sha256", sha256),
        )

    @app.get("/lineage/commit/{commit}", response_class=HTMLResponse, include_in_schema=False)
    def commit_lineage(commit: str) -> HTMLResponse:
        return html(
            f"Runs at commit {commit[:12]}",
            lambda: lineage_pages.runs_by(board, "git_commit", commit),
        )

    @app.get("/lineage/{reference}", response_class=HTMLResponse, include_in_schema=False)
    def lineage(reference: str) -> HTMLResponse:
        return html(
            f"Lineage of {reference}", lambda: lineage_pages.lineage_page(board, reference)
        )

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def experiments() -> HTMLResponse:
        return html("Runs", lambda: runs_pages.experiments_page(board))

    @app.get("/runs/{experiment}", response_class=HTMLResponse, include_in_schema=False)
    def runs(
        experiment: str,
        where: str | None = None,
        sort: str | None = None,
        desc: str | None = None,
        page: int = 1,
        x: str | None = None,
        y: str | None = None,
    ) -> HTMLResponse:
        return html(
            f"Runs: {experiment}",
            lambda: runs_pages.runs_page(
                board,
                experiment,
                where=where,
                sort=sort,
                descending=bool(desc),
                page=page,
                x=x,
                y=y,
            ),
        )

    @app.get("/runs/{experiment}/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(experiment: str, request: Request, key: str | None = None) -> HTMLResponse:
        ids = [r for item in request.query_params.getlist("run") for r in item.split(",") if r]
        return html(
            f"Compare: {experiment}", lambda: runs_pages.compare_page(board, experiment, ids, key)
        )

    @app.get("/runs/{experiment}/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_view(experiment: str, run_id: str, key: str | None = None) -> HTMLResponse:
        return html(f"Run {run_id}", lambda: runs_pages.run_page(board, experiment, run_id, key))
