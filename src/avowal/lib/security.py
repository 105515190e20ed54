"""Security headers everywhere, known hosts only, TLS in production (OWASP ASVS 5.0 V3, V12)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib import errors
from avowal.lib.errors import AvowalError
from avowal.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs runs Swagger UI from packaged assets (avowal.web.docs) with no inline script and nothing
# from another origin, so it needs no relaxation (tests/browser/test_docs.py watches for
# violations). Kept as a name so a future relaxation stays confined to that page.
DOCS_PATHS = ("/docs",)
DOCS_CSP = CSP
HSTS = "max-age=63072000; includeSubDomains"
# `same-origin`, not `no-referrer`: third parties (a recipient's policy linked from /privacy, any
# outbound link from the console) learn nothing either way, but under `no-referrer` browsers send
# `Origin: null` on same-origin form POSTs (Fetch, "append a request Origin header"), which would
# blind the console's Origin check against cross-site requests. Our own server keeps no access log.
REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), browsing-topics=()"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": REFERRER_POLICY,
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Responses that may carry personal data: never stored by a browser or a shared cache, whatever
# the route says.
PERSONAL = re.compile(
    r"^/(?:console(?:/|$)|v1/subjects(?:/|$)|v1/collect(?:/|$)|v1/disclosures(?:/|$)"
    r"|v1/receipts/(?!key$)[^/]+$)"
)
# Public documents that set their own caching (ETag, immutable assets). Any other response without
# a Cache-Control of its own gets no-store too: a route added later is private until it says so.
PUBLIC = re.compile(
    r"^/(?:privacy(?:\.md)?$|assets/|v1/policy$|v1/notices/|v1/receipts/key$|healthz$"
    r"|openapi\.json$|docs(?:/|$)|redoc$)"
)

# The console's session and pre-sign-in CSRF cookies, and a person's privacy-center session.
CREDENTIAL_COOKIES = frozenset({"avowal_session", "avowal_csrf", "avowal_person"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Load balancers probe health over plain HTTP inside the private network, by IP address.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
PLAIN_HTTP_PATHS = PROBE_PATHS
# Names a development or test server answers to besides the public URL's.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")


class InsecureConfiguration(RuntimeError):
    """Production settings that would let credentials travel in clear text."""


def check_production(settings: Settings) -> None:
    """Refuse production without TLS (our own or a trusted proxy's) or an https public URL."""
    if settings.env != "production":
        return
    if settings.demo:
        raise InsecureConfiguration(
            "AVOWAL_DEMO serves a demo site whose forms store data in the vault with a service "
            "token of its own: it is for development; unset it in production"
        )
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if (cert is None) != (key is None):
        raise InsecureConfiguration(
            "TLS needs both a certificate and its private key "
            "(AVOWAL_TLS_CERT_FILE and AVOWAL_TLS_KEY_FILE, or --tls-cert and --tls-key)"
        )
    if cert is None and not settings.trusted_proxies:
        raise InsecureConfiguration(
            "production mode refuses to serve without TLS, so that passwords and sessions never "
            "travel in clear text: give --tls-cert and --tls-key (or AVOWAL_TLS_CERT_FILE and "
            "AVOWAL_TLS_KEY_FILE), or name the reverse proxy that terminates TLS in "
            "AVOWAL_TRUSTED_PROXIES (e.g. '[\"127.0.0.1\"]')"
        )
    public = urlsplit(settings.public_url)
    if public.scheme != "https" or not public.hostname:
        raise InsecureConfiguration(
            f"AVOWAL_PUBLIC_URL is {settings.public_url!r}; production needs the https:// address "
            "people reach this server at (e.g. https://privacy.example.com): links and redirects "
            "are built from it, and only its host name is answered"
        )
    _check_mail(settings)


def _check_mail(settings: Settings) -> None:
    """Refuse production mail that travels in clear text or comes from a local address."""
    transport = settings.effective_mail_transport
    if transport == "smtp" and settings.smtp_security == "none":
        raise InsecureConfiguration(
            "AVOWAL_SMTP_SECURITY is 'none'; production refuses to send mail, which carries "
            "people's addresses and enrolment links, in clear text: use 'starttls' or 'tls'"
        )
    domain = settings.mail_from.rpartition("@")[2].strip().rstrip(">").lower()
    if transport != "none" and domain in ("localhost", "localhost.localdomain", "127.0.0.1"):
        raise InsecureConfiguration(
            f"AVOWAL_MAIL_FROM is {settings.mail_from!r}; production mail needs a real From "
            "address that replies can reach (e.g. privacy@example.com)"
        )


class SecurityHeaders:
    """ASGI middleware adding the security headers, HSTS and the caching rule to every response.

    It runs inside :class:`~avowal.lib.proxy.ProxyHeaders`, so ``scope["scheme"]`` is the scheme
    the visitor used. The headers replace any a route set: this is the one place they are decided.
    """

    def __init__(
        self, app: ASGIApp, *, production: bool, csp_by_prefix: dict[str, str] | None = None
    ) -> None:
        self.app = app
        self.production = production
        # Pages under a path prefix that need another policy (the demo site: the banner's
        # styles, by hash); every other page gets CSP.
        self.csp_by_prefix = csp_by_prefix or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        hsts = self.production and scope["scheme"] == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not self.production and path in DOCS_PATHS:
                    headers["Content-Security-Policy"] = DOCS_CSP
                for prefix, csp in self.csp_by_prefix.items():
                    if path.startswith(prefix):
                        headers["Content-Security-Policy"] = csp
                if hsts:
                    headers["Strict-Transport-Security"] = HSTS
                if PERSONAL.match(path) or (
                    not PUBLIC.match(path) and "cache-control" not in headers
                ):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TLSRequired:
    """ASGI middleware (production only) keeping credentials off plain HTTP.

    Over plain HTTP, a request carrying credentials (an Authorization header or a session or CSRF
    cookie) or with any method but GET/HEAD is refused with 403 before its body is read; a
    plain GET is redirected (308) to the same path at the public URL's host, never to the host
    the request named, except the probes load balancers send.
    """

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        public = urlsplit(public_url)
        if public.scheme != "https" or not public.hostname:
            raise InsecureConfiguration(f"TLSRequired needs an https public URL: {public_url!r}")
        self.public_host = public.netloc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["scheme"] == "https":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if has_credentials(headers) or scope["method"] not in SAFE_METHODS:
            await errors.send_problem(scope, receive, send, TLSRequiredRefusal())
            return
        if scope["path"] in PLAIN_HTTP_PATHS:
            await self.app(scope, receive, send)
            return
        location = f"https://{self.public_host}{target(scope)}"
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """Return the host names this server answers to.

    The public URL's, those in AVOWAL_ALLOWED_HOSTS and, outside production, the local names.
    """
    hosts = [urlsplit(settings.public_url).hostname or "", *settings.allowed_hosts]
    if settings.env != "production":
        hosts += LOCAL_HOSTS
    return tuple(dict.fromkeys(normal_host(h) for h in hosts if h))


def normal_host(name: str) -> str:
    """Return a host name as compared: lower case, without brackets or a final dot."""
    return name.strip().strip("[]").rstrip(".").lower()


def host_name(header: str) -> str:
    """Return the host name of a Host header, without its port."""
    header = header.strip()
    if header.startswith("["):
        return normal_host(header[: header.find("]") + 1]) if "]" in header else ""
    return normal_host(header.rsplit(":", 1)[0] if header.count(":") == 1 else header)


class TrustedHosts:
    """ASGI middleware answering 400 ``unknown_host`` to a Host header not in ``allowed``.

    A name may be exact (``privacy.example.com``) or a subdomain wildcard (``*.example.com``).
    Nothing downstream is then ever asked to build a link for a host an attacker chose (DNS
    rebinding, poisoned caches, password-reset style link poisoning). The probes load balancers
    send by IP address are answered whatever their Host.
    """

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str]) -> None:
        self.app = app
        names = [normal_host(name) for name in allowed]
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, host: str) -> bool:
        """Say whether requests for ``host`` (a Host header) are answered."""
        name = host_name(host)
        return bool(name) and (name in self.exact or name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        await errors.send_problem(scope, receive, send, UnknownHost())


def target(scope: Scope) -> str:
    """Return the path and query the client asked for, as sent."""
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def has_credentials(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Say whether a request carries an Authorization header or one of our credential cookies."""
    for name, value in headers:
        if name == b"authorization":
            return True
        if name == b"cookie" and CREDENTIAL_COOKIES & cookie_names(value.decode("latin-1")):
            return True
    return False


def cookie_names(header: str) -> set[str]:
    """Return the cookie names in a Cookie header (values are never looked at)."""
    return {part.split("=", 1)[0].strip() for part in header.split(";")}


class UnknownHost(AvowalError):
    """A request sent to a host name this server does not answer for."""

    status_code = 400
    error = "unknown_host"

    def __init__(self) -> None:
        super().__init__(
            "this server does not answer for the host name this request was sent to; use the "
            "address in its published policy (operators: add other names to AVOWAL_ALLOWED_HOSTS)"
        )


class TLSRequiredRefusal(AvowalError):
    """Credentials or a change sent over plain HTTP: refused, never processed."""

    status_code = 403
    error = "tls_required"

    def __init__(self) -> None:
        super().__init__(
            "credentials and changes are accepted only over HTTPS; this request came over plain "
            "HTTP and was not processed. Send it again to the https:// address and consider the "
            "credential it carried exposed.",
            promise="passwords travel over TLS",
        )
