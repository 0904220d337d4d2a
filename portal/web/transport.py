"""Transport security helpers: what counts as HTTPS, and the plain-HTTP redirector."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


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


def https_netloc(base_url: str, https_port: int | None = None) -> str:
    """The host (and port) HTTPS is served at, from the operator's ``PORTAL_BASE_URL``.

    Never from a request's Host header. An https base URL names it exactly; an
    http one (TLS served by gunicorn on another port) gives the host, and the
    port is ``https_port`` unless that is 443.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return parts.netloc
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{https_port}" if https_port and https_port != 443 else host


def https_url(netloc: str, path: str, query: str) -> str:
    """``https://netloc/path?query``, the path quoted as a URL needs it."""
    path = quote(path or "/", safe="/:@!$&'()*+,;=-._~%")
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


class RedirectToHttps:
    """A tiny WSGI app for the plain-HTTP port: every request goes to the HTTPS address."""

    def __init__(self, netloc: str) -> None:
        self.netloc = netloc

    def __call__(self, environ, start_response):
        location = https_url(
            self.netloc, environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", "")
        )
        start_response(
            "301 Moved Permanently",
            [("Location", location), ("Content-Type", "text/plain"), ("Content-Length", "0")],
        )
        return [b""]


#: Seconds the redirector waits for a request's bytes before it drops the connection.
REDIRECT_READ_TIMEOUT = 10


def serve_https_redirects(
    host: str, port: int, netloc: str, read_timeout: float = REDIRECT_READ_TIMEOUT
):
    """Answer plain HTTP on ``host:port`` with redirects to ``netloc``, in a daemon thread.

    One thread per connection, each with a read timeout, so idle or slow
    clients stall nobody. Returns the server (``shutdown()`` stops it).
    """
    import sys
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], OSError):  # a timeout or a reset: expected
                super().handle_error(request, client_address)

    class QuietHandler(WSGIRequestHandler):
        timeout = read_timeout

        def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
            pass

    server = make_server(
        host,
        port,
        RedirectToHttps(netloc),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
