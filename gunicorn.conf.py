"""Production gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Environment:
  PORTAL_BIND                 address:port to serve on (default 127.0.0.1:8000)
  PORTAL_WORKERS              worker processes (default 2)
  PORTAL_TLS_CERT, PORTAL_TLS_KEY
                              PEM certificate chain and key: serve HTTPS, TLS 1.2 or newer only
  PORTAL_HTTP_REDIRECT_PORT   also listen for plain HTTP on this port (same host) and
                              answer every request with a redirect to HTTPS
"""

import os
import ssl
import threading

wsgi_app = "wsgi:app"
bind = [os.environ.get("PORTAL_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("PORTAL_WORKERS", "2"))

# Which scheme a request came in by is decided by the app alone (ProxyFix for
# PORTAL_TRUSTED_PROXIES hops); gunicorn must not believe X-Forwarded-Proto itself.
forwarded_allow_ips = ""
secure_scheme_headers = {}

_cert = os.environ.get("PORTAL_TLS_CERT", "")
_key = os.environ.get("PORTAL_TLS_KEY", "")
if _cert and _key:
    certfile = _cert
    keyfile = _key


def ssl_context(config, default_ssl_context_factory):
    """Refuse SSLv3, TLS 1.0 and 1.1."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def when_ready(server):
    """Start the plain-HTTP redirector next to the HTTPS listener, if asked for."""
    port = os.environ.get("PORTAL_HTTP_REDIRECT_PORT", "")
    if not port:
        return
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from portal.web.transport import RedirectToHttps

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
            pass

    host = bind[0].rsplit(":", 1)[0].strip("[]")
    https_port = int(bind[0].rsplit(":", 1)[1])
    redirector = make_server(
        host, int(port), RedirectToHttps(https_port), handler_class=QuietHandler
    )
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    server.log.info("Redirecting plain HTTP on %s:%s to HTTPS", host, port)
