"""Production gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Environment:
  PORTAL_BIND                 address:port to serve on (default 127.0.0.1:8000)
  PORTAL_WORKERS              worker processes (default 1)
  PORTAL_THREADS              threads per worker (default 8)
  PORTAL_TLS_CERT, PORTAL_TLS_KEY
                              PEM certificate chain and key: serve HTTPS, TLS 1.2 or newer only
  PORTAL_HTTP_REDIRECT_PORT   also listen for plain HTTP on this port (same host) and
                              answer every request with a redirect to HTTPS at the host
                              of PORTAL_BASE_URL (behind a proxy such as Caddy, leave it
                              unset: the proxy redirects)

Rate limits count in PORTAL_RATELIMIT_STORAGE_URI (default: PORTAL_REDIS_URL, else
memory://, which each worker process keeps for itself). One worker with threads keeps
every limit exact without Redis; more workers in production need a shared storage, and
the server refuses to start without one (``on_starting``).
"""

import os
import ssl

wsgi_app = "wsgi:app"
bind = [os.environ.get("PORTAL_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("PORTAL_WORKERS", "1"))
threads = int(os.environ.get("PORTAL_THREADS", "8"))
worker_class = "gthread"

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


def on_starting(server):
    """Refuse, before any worker starts, rate limits that every worker would count alone."""
    from portal.config import ConfigError, check_rate_limit_storage, load_config

    try:
        config = load_config()
        check_rate_limit_storage(
            str(config["PORTAL_ENV"]), server.cfg.workers, str(config["RATELIMIT_STORAGE_URI"])
        )
    except ConfigError as error:
        server.log.error("Portal cannot start: %s", error)
        raise SystemExit(1) from None


def when_ready(server):
    """Start the plain-HTTP redirector next to the HTTPS listener, if asked for."""
    port = os.environ.get("PORTAL_HTTP_REDIRECT_PORT", "")
    if not port:
        return
    from portal.config import load_config
    from portal.web.transport import https_netloc, serve_https_redirects

    address = server.cfg.bind[0]
    host = address.rsplit(":", 1)[0].strip("[]")
    https_port = int(address.rsplit(":", 1)[1])
    netloc = https_netloc(str(load_config()["BASE_URL"]), https_port)
    serve_https_redirects(host, int(port), netloc)
    server.log.info("Redirecting plain HTTP on %s:%s to https://%s", host, port, netloc)
