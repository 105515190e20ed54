"""Server-side cookie enforcement for the site's own application (ASGI and WSGI middleware).

Both read the visitor's consent cookie and ``Sec-GPC`` from each request, drop the response's
``Set-Cookie`` headers of categories the visitor has not consented to, and report the cookies
the policy does not declare. They need no database and no avowal server: only the policy.
"""

from avowal.integrations.asgi import ConsentCookiesASGI
from avowal.integrations.wsgi import ConsentCookiesWSGI

__all__ = ["ConsentCookiesASGI", "ConsentCookiesWSGI"]
