"""HTTP of cookie consent: the banner script, choices and their proof, links to people, GPC."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from avowal.callers.deps import CallerDep
from avowal.consent import banner, service
from avowal.consent.exceptions import OriginNotAllowed
from avowal.consent.schemas import (
    ChoiceRecorded,
    ConsentHistory,
    CookieChoice,
    GpcSupport,
    LinkedConsent,
    LinkRequest,
    SubjectCookieConsents,
)
from avowal.lib import errors, problems
from avowal.lib.deps import (
    PolicyDep,
    ReadSessionDep,
    SecretsDep,
    SessionDep,
    SettingsDep,
)
from avowal.lib.errors import AvowalError

router = APIRouter(tags=["consent"])

PREFLIGHT_MAX_AGE = "86400"
CHOICES = "/v1/consents/cookies"
ConsentIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
SubjectIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=200, description="A fideslang data use.")]


@router.api_route("/c.js", methods=["GET", "HEAD"], include_in_schema=False)
def banner_script(
    request: Request, session: ReadSessionDep, policy: PolicyDep, settings: SettingsDep
) -> Response:
    """Serve the cookie banner with its configuration from the policy in effect (5 minutes)."""
    scripts: banner.ScriptCache = request.app.state.banner_scripts
    served = scripts.get(
        policy.version_id,
        lambda: banner.script(banner.config(policy, settings, banner.upcoming(session, settings))),
    )
    headers = {
        "Cache-Control": banner.CACHE,
        "ETag": served.etag,
        # Any site may load it with <script src>, also under a Cross-Origin-Embedder-Policy.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if served.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    headers["Vary"] = "Accept-Encoding"
    body = served.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = served.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=banner.MEDIA_TYPE)
    return Response(body, headers=headers, media_type=banner.MEDIA_TYPE)


def _cors(request: Request, policy: PolicyDep, settings: SettingsDep) -> dict[str, str]:
    headers = {"Vary": "Origin"}
    allowed = service.allowed_origin(policy, settings, request.headers.get("origin"))
    if allowed is not None:
        headers["Access-Control-Allow-Origin"] = allowed
    return headers


def _refused_origin(request: Request) -> OriginNotAllowed:
    return OriginNotAllowed(
        "only pages of the sites this server serves may send cookie choices from a browser "
        "(the policy's analytics sites, the public URL, AVOWAL_CONSENT_ORIGINS)",
        origin=(request.headers.get("origin") or "")[:300],
    )


@router.options(CHOICES, include_in_schema=False)
def choice_preflight(request: Request, policy: PolicyDep, settings: SettingsDep) -> Response:
    """Answer a CORS pre-flight: allowed for pages of the sites served only."""
    headers = _cors(request, policy, settings)
    if "Access-Control-Allow-Origin" not in headers:
        exc = _refused_origin(request)
        # Answered here, with the CORS headers, not by the handlers that count refusals.
        errors.count(request.scope, exc.error)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
    )
    return Response(status_code=204, headers=headers)


@router.post(
    CHOICES,
    status_code=201,
    response_model=ChoiceRecorded,
    responses=problems.responses(
        400,
        403,
        409,
        413,
        422,
        503,
        s403="A browser page of a site this server does not serve sent it "
        "(`origin_not_allowed`); nothing was stored.",
        s409="The banner version is not the current one (`banner_version_stale`): the cookie "
        "declaration changed, show the banner again; nothing was stored.",
        s422="The request is not valid, or grants categories the banner does not offer "
        "(`categories_not_choosable`, naming them); nothing was stored.",
    ),
)
def record_choice(
    body: CookieChoice,
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    response: Response,
) -> ChoiceRecorded:
    """Record a visitor's cookie choice; return the consent cookie and a signed receipt.

    A `Sec-GPC: 1` header turns the advertising category off and is recorded. Nothing that
    identifies the visitor (IP address, user agent) is kept.
    """
    cors = _cors(request, policy, settings)
    try:
        if request.headers.get("origin") and "Access-Control-Allow-Origin" not in cors:
            raise _refused_origin(request)
        gpc = request.headers.get("sec-gpc", "").strip() == "1"
        recorded = service.record(session, policy, secrets, body, gpc_signal=gpc)
    except AvowalError as exc:
        # The banner must read the refusal (a stale version asks again): CORS headers too.
        exc.headers = {**(exc.headers or {}), **cors}
        raise
    response.headers.update(cors)
    return recorded


@router.get(
    f"{CHOICES}/{{consent_id}}",
    response_model=ConsentHistory,
    responses=problems.responses(404, 422, 503),
)
def consent_history(consent_id: ConsentIdPath, session: ReadSessionDep) -> ConsentHistory:
    """Return every choice recorded under a consent id, newest first (the id is the secret)."""
    return service.history(session, consent_id)


@router.post(
    "/v1/subjects/{subject_id}/cookie-consents",
    status_code=201,
    response_model=LinkedConsent,
    responses=problems.responses(400, 401, 403, 404, 410, 413, 422, 503),
)
def link_cookie_consent(
    subject_id: SubjectIdPath, body: LinkRequest, session: SessionDep, caller: CallerDep
) -> LinkedConsent:
    """Attach a cookie consent id to a person, so the proof follows them, not the device."""
    return service.link(session, caller, subject_id, body.consent_id)


@router.get(
    "/v1/subjects/{subject_id}/cookie-consents",
    response_model=SubjectCookieConsents,
    responses=problems.responses(400, 401, 403, 404, 410, 422, 503),
)
def list_cookie_consents(
    subject_id: SubjectIdPath,
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    caller: CallerDep,
) -> SubjectCookieConsents:
    """List a person's linked cookie consent ids with every choice recorded under them."""
    return service.linked(session, policy, caller, subject_id, purpose)


@router.get(
    "/.well-known/gpc.json",
    response_model=GpcSupport,
    response_model_by_alias=True,
    responses=problems.responses(404, 503),
)
def gpc_json(session: ReadSessionDep, policy: PolicyDep) -> GpcSupport:
    """Say that this site honours Global Privacy Control, and since when."""
    return service.gpc_support(session, policy)
