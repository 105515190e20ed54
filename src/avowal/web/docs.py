"""The API documentation page, `/docs` (Swagger UI), from packaged assets only.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and start them with an inline script;
a privacy product must not tell a CDN who reads its documentation, and its pages run no inline
script. The bundle comes from the ``fastapi-offline`` package (Swagger UI, Apache-2.0), the
starting script from ``avowal.web``; every request of the page stays on our origin. There is no
ReDoc page: its bundle loads its logo from Redocly's CDN.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from avowal.lib.assets import Stylesheet

PREFIX = "/docs/assets"
JS = "text/javascript"


def _bundle(resource: str, media_type: str) -> Stylesheet:
    return Stylesheet(
        "fastapi_offline", f"static/{resource}", f"{PREFIX}/{resource}", media_type=media_type
    )


def _own(resource: str) -> Stylesheet:
    return Stylesheet("avowal.web", f"static/{resource}", f"{PREFIX}/{resource}", media_type=JS)


SWAGGER_JS = _bundle("swagger-ui-bundle.js", JS)
SWAGGER_CSS = _bundle("swagger-ui.css", "text/css")
FAVICON = _bundle("favicon.png", "image/png")
START_SWAGGER = _own("docs.js")
ASSETS = {
    asset.path.rsplit("/", 1)[1]: asset
    for asset in (SWAGGER_JS, SWAGGER_CSS, FAVICON, START_SWAGGER)
}

router = APIRouter(include_in_schema=False)


def _page(request: Request, title: str, body: str, head: str = "") -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="icon" type="image/png" href="{escape(root + FAVICON.href)}">'
        f"{head}</head><body>{body}</body></html>\n"
    )


def _openapi_url(request: Request) -> str:
    root = request.scope.get("root_path", "").rstrip("/")
    return escape(root + (request.app.openapi_url or "/openapi.json"))


def _script(request: Request, asset: Stylesheet) -> str:
    root = request.scope.get("root_path", "").rstrip("/")
    return f'<script src="{escape(root + asset.href)}"></script>'


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Show the API in Swagger UI, from packaged assets."""
    root = request.scope.get("root_path", "").rstrip("/")
    return _page(
        request,
        f"{request.app.title} API",
        f'<div id="swagger-ui" data-openapi="{_openapi_url(request)}"></div>'
        + _script(request, SWAGGER_JS)
        + _script(request, START_SWAGGER),
        head=f'<link rel="stylesheet" href="{escape(root + SWAGGER_CSS.href)}">',
    )


@router.get(PREFIX + "/{name}")
def asset(name: str) -> Response:
    """Serve a packaged asset of the documentation pages (cached for a year)."""
    found = ASSETS.get(name)
    if found is None:
        raise HTTPException(404, "no such documentation asset")
    return found.response()
