"""The demo site's pages (``/demo/``): a home page with the cookie banner and the tracker, a
form per collection point of the policy showing its notice, and what avowal answered.

Each form is what a site's own back end renders (:mod:`avowal.integrations.forms`): the point's
notice, its fields and the notice id; on sending, the values go to avowal with the notice shown
(:func:`avowal.integrations.forms.submit`), or, for a person under the children threshold who
gives a parent's address, with the parent notice too; a changed notice is shown again, nothing
stored. The site's user id (``ref``) is a fresh random one per sign-up: the demo keeps no
accounts of its own.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from avowal.client import AvowalError, Client
from avowal.demo import site
from avowal.integrations import forms
from avowal.lib.deps import PolicyDep
from avowal.lib.security import CSP
from avowal.vault.schemas import Collected

PREFIX = "/demo"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def csp() -> str:
    """The demo pages' Content-Security-Policy: avowal's own, and the banner's styles (the
    ``<style>`` /c.js adds, allowed by its hash) as a site using the banner allows them."""
    from avowal.consent import banner  # minifies its assets on import: only when asked

    return CSP.replace("style-src 'self'", f"style-src 'self' {banner.STYLE_CSP}")


PARENT_INPUT = "parent_email"


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("avowal.demo", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )


def _client(request: Request) -> Client:
    """Return the demo's client of this server (a test may set ``app.state.demo_client``)."""
    found: Client | None = getattr(request.app.state, "demo_client", None)
    if found is None:
        state = request.app.state
        found = site.client(state.settings, state.policies.current(), state.sessionmaker)
        state.demo_client = found
    return found


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status)


@router.get("/", response_class=HTMLResponse)
def home(policy: PolicyDep) -> HTMLResponse:
    """The site's home page: its forms, its policy, the privacy center, banner and tracker."""
    p = policy.policy
    sites = p.analytics.sites if p.analytics.enabled else []
    return _page(
        "home.html",
        organisation=p.organisation.name,
        points=[(key, point.title) for key, point in p.collection_points.items()],
        # The simplest tags, from this origin: the pages' Content-Security-Policy allows no
        # inline script (so not the inline loader `avowal cookies tag` recommends elsewhere).
        banner=Markup('<script async src="/c.js"></script>') if p.cookies else Markup(""),
        tracker=forms.tracker_tag("", sites[0].domain) if sites else Markup(""),
    )


def _form_page(
    request: Request,
    point: str,
    *,
    values: dict[str, str] | None = None,
    changes: list[str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    client = _client(request)
    notice = client.notice(point)
    parent = None
    if notice.minimum_age_without_parent is not None:
        parent = client.parent_notice(point)
    return _page(
        "form.html",
        status=status,
        point=point,
        notice=forms.notice_html(notice, changed=changes is not None, changes=changes),
        fields=forms.fields_html(notice, values),
        parent=parent,
        parent_input=PARENT_INPUT,
        parent_value=(values or {}).get(PARENT_INPUT, ""),
        error=error,
    )


@router.get("/forms/{point}", response_class=HTMLResponse)
def form(request: Request, point: str, policy: PolicyDep) -> HTMLResponse:
    """A collection point's form, under its notice."""
    if point not in policy.policy.collection_points:
        return _page("missing.html", status=404, point=point)
    return _form_page(request, point)


@router.post("/forms/{point}", response_class=HTMLResponse)
async def send(request: Request, point: str, policy: PolicyDep) -> HTMLResponse:
    """Send a form's values to avowal under the notice it was shown with."""
    if point not in policy.policy.collection_points:
        return _page("missing.html", status=404, point=point)
    form_data = await request.form()
    values = {k: v for k, v in form_data.items() if isinstance(v, str)}
    # The client is synchronous, and calls this very server: off the event loop.
    return await run_in_threadpool(_collect, request, point, values)


def _collect(request: Request, point: str, values: dict[str, str]) -> HTMLResponse:
    client = _client(request)
    ref = f"demo-{secrets.token_hex(8)}"
    parent_email = values.get(PARENT_INPUT, "").strip()
    try:
        if parent_email:
            # A minor: the values and the parent's address, with both notices shown.
            shown = values.get(forms.NOTICE_INPUT, "")
            notice = client.notice(point)
            if shown != notice.notice_id:
                return _form_page(request, point, values=values, changes=[], status=409)
            sent = {f.name: values[f.name] for f in notice.fields if values.get(f.name)}
            collected = client.collect(
                point, sent, ref=ref, notice_id=shown, parent_email=parent_email
            )
        else:
            answer = forms.submit(client, point, values, ref=ref)
            if isinstance(answer, forms.NoticeChanged):
                return _form_page(request, point, values=values, changes=answer.changes, status=409)
            collected = answer.collected
    except forms.NoticeNotShown as exc:
        return _form_page(request, point, values=values, error=str(exc), status=400)
    except AvowalError as exc:
        return _form_page(request, point, values=values, error=exc.message, status=exc.status)
    return _done(point, collected)


def _done(point: str, collected: Collected) -> HTMLResponse:
    receipt = collected.receipt
    return _page(
        "done.html",
        point=point,
        subject_id=collected.subject_id,
        receipt_id=receipt.receipt_id,
        fields=receipt.fields,
        recipients=receipt.recipients,
        parental=collected.parental_consent,
    )
