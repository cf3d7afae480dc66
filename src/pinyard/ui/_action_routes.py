"""The UI's changes: each registry action is posted to a confirm step, which changes
nothing and shows what would happen, then to apply, which records the event. Every
posted form is checked first: not read-only, from this site, a form, small, and carrying
the CSRF token."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pinyard.errors import PinyardError
from pinyard.registry import Registry
from pinyard.ui import _actions as actions
from pinyard.ui._site import Site, status_for

#: The largest action form accepted (they are a few hundred bytes).
MAX_FORM_BYTES = 64 * 1024


def add_action_routes(app: FastAPI, site: Site) -> None:
    """Register ``POST /registry/NAME/confirm`` and ``POST /registry/NAME/apply``."""
    board, csrf, refusal = site.board, site.csrf, site.refusal

    async def action_form(request: Request) -> dict[str, str] | Response:
        """The posted form, or the response refusing it (read-only, foreign, forged)."""
        if site.read_only:
            return refusal(403, "this UI is read-only (started with --read-only): it shows "
                           "the board and changes nothing")  # fmt: skip
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return refusal(403, f"refused a form posted from another site ({origin})")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            return refusal(415, f"an action is a posted HTML form, not {kind or 'no body'}")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return refusal(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not hmac.compare_digest(form.get("csrf", "").encode(), csrf.encode()):
            return refusal(
                403,
                "the form's CSRF token is missing or out of date (the UI was restarted, or "
                "the form came from elsewhere): reload the page",
            )
        return form

    @app.post("/registry/{name}/confirm", response_class=HTMLResponse, include_in_schema=False)
    async def confirm(name: str, request: Request) -> Response:
        form = await action_form(request)
        if isinstance(form, Response):
            return form
        registry = Registry(board, user=site.acting)

        def render() -> str:
            action = actions.Action.from_form(name, form)
            return actions.confirm_page(name, action, actions.resolve(registry, action), csrf)

        return site.html(f"Confirm: {name}", render)

    @app.post("/registry/{name}/apply", response_class=HTMLResponse, include_in_schema=False)
    async def apply(name: str, request: Request) -> Response:
        form = await action_form(request)
        if isinstance(form, Response):
            return form
        registry = Registry(board, user=site.acting)
        try:
            event = actions.apply(registry, actions.Action.from_form(name, form))
        except PinyardError as exc:
            refused = actions.refused(name, actions.in_form_words(exc))
            return site.respond(f"Not changed: {name}", refused, status_for(exc))
        return RedirectResponse(f"/registry/{quote(name)}?done={event.seq}", status_code=303)
