"""Transport security helpers: what counts as HTTPS, and the plain-HTTP redirector."""

from __future__ import annotations

from urllib.parse import quote


class ForwardedProtoFromScheme:
    """Make ``X-Forwarded-Proto`` say what the request's trusted scheme is.

    Flask-Talisman treats a request as secure when that header says https, even
    with no trusted proxy in front. Placed below ProxyFix, this middleware
    rewrites the header to ``wsgi.url_scheme``: the real scheme, or the one
    ProxyFix took from the trusted number of proxy hops. A forged header
    from a client therefore changes nothing.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
        return self.wsgi_app(environ, start_response)


class RedirectToHttps:
    """A tiny WSGI app for the plain-HTTP port: every request goes to the HTTPS address."""

    def __init__(self, https_port: int | None = None) -> None:
        self.https_port = https_port

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.https_port and self.https_port != 443:
            hostname = f"{hostname}:{self.https_port}"
        path = quote(environ.get("PATH_INFO", "/") or "/", safe="/:@!$&'()*+,;=-._~%")
        query = environ.get("QUERY_STRING", "")
        location = f"https://{hostname}{path}" + (f"?{query}" if query else "")
        start_response(
            "301 Moved Permanently",
            [("Location", location), ("Content-Type", "text/plain"), ("Content-Length", "0")],
        )
        return [b""]
