"""Configuration, read only from ``PORTAL_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret_key(instance_path: Path) -> str:
    """Create once and keep a random key so development sessions survive restarts.

    Several workers may start at once: the key is written to a private file
    first and then linked into place, so nobody ever reads a half-written key.
    """
    key_file = instance_path / "secret_key"
    instance_path.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            draft.unlink()
    return key_file.read_text().strip()


#: Host names a developer's browser or the tests use; trusted outside production only.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def trusted_hosts(base_url: str, allowed: str, production: bool) -> list[str]:
    """The Host header values Portal answers for (werkzeug's ``TRUSTED_HOSTS``).

    The host of ``PORTAL_BASE_URL`` and those listed in ``PORTAL_ALLOWED_HOSTS``
    (comma-separated; ``.example.com`` also allows its subdomains). Any other
    Host gets 400, so no page, link or redirect is ever built from a forged one.
    """
    hosts = [urlsplit(base_url).hostname or ""]
    hosts += [name.strip().lower() for name in allowed.split(",")]
    hosts = [f"[{host}]" if ":" in host and not host.startswith("[") else host for host in hosts]
    if not production:
        hosts += LOOPBACK_HOSTS
    return list(dict.fromkeys(host for host in hosts if host))


def check_rate_limit_storage(mode: str, workers: int, storage_uri: str) -> None:
    """Refuse counters that each worker keeps for itself where limits must hold.

    With ``memory://`` every worker process counts alone, so N workers allow
    N times each limit. Raises ConfigError in production; the server calls this
    before it starts its workers (``gunicorn.conf.py``).
    """
    if mode == "production" and workers > 1 and storage_uri.startswith("memory://"):
        raise ConfigError(
            f"{workers} workers would each count rate limits alone in memory://, allowing "
            f"{workers} times every limit. Set PORTAL_RATELIMIT_STORAGE_URI (or "
            "PORTAL_REDIS_URL) to a Redis all workers share, or run one worker "
            "(PORTAL_WORKERS=1) with threads (PORTAL_THREADS)."
        )


def load_config(environ: dict[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config mapping from the environment."""
    env = dict(os.environ if environ is None else environ)
    mode = env.get("PORTAL_ENV", "development").strip().lower()
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"PORTAL_ENV must be development, production or testing, not {mode!r}")
    production = mode == "production"
    instance_path = Path(env.get("PORTAL_INSTANCE_PATH", PROJECT_ROOT / "instance")).resolve()

    secret_key = env.get("PORTAL_SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError("PORTAL_SECRET_KEY must be set in production.")
        secret_key = _dev_secret_key(instance_path)

    force_https = _flag(env.get("PORTAL_FORCE_HTTPS"), default=production)
    trusted_proxies = env.get("PORTAL_TRUSTED_PROXIES", "0").strip() or "0"
    if not trusted_proxies.isdigit() or int(trusted_proxies) > 10:
        raise ConfigError("PORTAL_TRUSTED_PROXIES must be a number of proxy hops from 0 to 10.")
    redis_url = env.get("PORTAL_REDIS_URL", "").strip()
    try:
        give_up_hours = float(env.get("PORTAL_MAIL_GIVE_UP_HOURS", "24") or "24")
    except ValueError:
        give_up_hours = -1.0
    if not 0 < give_up_hours <= 24 * 14:
        raise ConfigError("PORTAL_MAIL_GIVE_UP_HOURS must be a number of hours from 0 to 336.")
    base_url = env.get("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    if urlsplit(base_url).scheme not in {"http", "https"} or not urlsplit(base_url).hostname:
        raise ConfigError("PORTAL_BASE_URL must be an http:// or https:// address.")
    return {
        "PORTAL_ENV": mode,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": secret_key,
        "DATABASE_URL": env.get("PORTAL_DATABASE_URL", f"sqlite:///{instance_path / 'portal.db'}"),
        "BASE_URL": base_url,
        "TRUSTED_HOSTS": trusted_hosts(base_url, env.get("PORTAL_ALLOWED_HOSTS", ""), production),
        "FORCE_HTTPS": force_https,
        "SMTP_URL": env.get("PORTAL_SMTP_URL", ""),
        "MAIL_FROM": env.get("PORTAL_MAIL_FROM", "Portal <no-reply@portal.invalid>"),
        "OUTBOX_PATH": env.get("PORTAL_OUTBOX_PATH", str(instance_path / "outbox")),
        # One Redis shared by every host: the task queue, and the rate limits unless
        # PORTAL_RATELIMIT_STORAGE_URI names another store.
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": env.get("PORTAL_RATELIMIT_STORAGE_URI", redis_url or "memory://"),
        "RATELIMIT_ENABLED": _flag(env.get("PORTAL_RATELIMIT_ENABLED"), default=True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "BOOKING_RATE_LIMIT": env.get("PORTAL_BOOKING_RATE_LIMIT", "10 per minute;60 per hour"),
        "SIGNIN_RATE_LIMIT": env.get("PORTAL_SIGNIN_RATE_LIMIT", "10 per minute;100 per hour"),
        "SIGNIN_ACCOUNT_RATE_LIMIT": env.get(
            "PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT", "10 per minute;30 per hour"
        ),
        "ENCRYPTION_KEY": env.get("PORTAL_ENCRYPTION_KEY", ""),
        # Newest first; the first seals, all open (``portal rotate-keys`` moves to the first).
        "ENCRYPTION_KEYS": env.get("PORTAL_ENCRYPTION_KEYS", ""),
        "TRUSTED_PROXIES": int(trusted_proxies),
        #: Without Redis, the task queue lives in this SQLite file (one host only).
        "TASKS_PATH": env.get("PORTAL_TASKS_PATH", str(instance_path / "tasks.db")),
        "MAIL_GIVE_UP_HOURS": give_up_hours,
        # The __Host- prefix pins the cookie to this host, path / and HTTPS.
        "SESSION_COOKIE_NAME": "__Host-portal" if force_https else "portal_session",
        "SESSION_COOKIE_SECURE": force_https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": 3600 * 4,
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "TESTING": mode == "testing",
    }
