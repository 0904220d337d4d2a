"""Portal: a self-hosted booking portal for small service businesses."""

from __future__ import annotations

from flask import Flask

from portal.config import PROJECT_ROOT, load_config


def create_app(config: dict[str, object] | None = None) -> Flask:
    """Build the application; ``config`` overrides what the environment says."""
    settings = load_config()
    settings.update(config or {})
    app = Flask(
        __name__,
        instance_path=str(settings["INSTANCE_PATH"]),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    register_proxy_fix(app)
    register_extensions(app)
    register_converters(app)
    register_blueprints(app)
    register_templating(app)
    register_queue(app)
    return app


def register_proxy_fix(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto only from as many proxies as the operator says."""
    from portal.web.transport import ForwardedProtoFromScheme

    # Below ProxyFix: X-Forwarded-Proto is rewritten to the scheme ProxyFix trusted
    # (or the real one), so nothing downstream (Talisman) believes a forged header.
    app.wsgi_app = ForwardedProtoFromScheme(app.wsgi_app)
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)


def register_extensions(app: Flask) -> None:
    from portal.accounts.hooks import init_app as init_account_hooks
    from portal.accounts.passwords import init_app as init_password_hashing
    from portal.audit.keys import init_app as init_audit_keys
    from portal.embedding.framing import init_app as init_embedding
    from portal.extensions import csrf, db, limiter, login_manager
    from portal.hipaa.guards import init_app as init_hipaa_guards
    from portal.hipaa.notices import init_app as init_hipaa_sign_in
    from portal.mail.transport import transport_from_config
    from portal.staff.guards import init_app as init_staff_guards
    from portal.support.guards import init_app as init_support_guards
    from portal.support.service import init_app as init_support_accounts
    from portal.web.i18n import init_app as init_languages
    from portal.web.owner_texts import init_app as init_owner_texts
    from portal.web.security import init_security_headers

    db.init_app(app)
    init_audit_keys(app)  # audit.record seals with them; bound to the database
    init_password_hashing(app)
    # First among the request hooks: the CSP nonce and the HTTPS redirect must
    # come before any hook that may refuse the request (CSRF, rate limits).
    init_security_headers(app)
    init_embedding(app)  # frame-ancestors from the business's allowlist on public pages
    init_languages(app)
    init_owner_texts(app)  # the owner's texts in the page's language
    init_hipaa_guards(app)
    init_support_guards(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # server-side session records do this job
    login_manager.login_view = "staff_auth.login"
    # Accounts knows no feature: those that tighten or follow sign-in register with it.
    init_account_hooks(app)
    init_hipaa_sign_in(app)
    init_support_accounts(app)
    init_staff_guards(app)
    app.extensions["portal_mail"] = transport_from_config(app.config)


def register_converters(app: Flask) -> None:
    """Before any route: ``<int:...>`` then matches only ids a database can hold."""
    from portal.web.converters import init_app as init_converters

    init_converters(app)


def register_blueprints(app: Flask) -> None:
    import portal.accounts.current  # noqa: F401 (registers the flask-login user loader)
    from portal.accounts.passkey_views import blueprint as passkeys
    from portal.accounts.staff_views import blueprint as staff_auth
    from portal.audit.views import blueprint as audit_views
    from portal.booking.views import blueprint as booking
    from portal.branding.views import blueprint as branding
    from portal.branding.views import public as branding_public
    from portal.catalog.views import blueprint as catalog
    from portal.clients.account_views import blueprint as client_accounts
    from portal.clients.views import blueprint as clients
    from portal.embedding.views import blueprint as embedding
    from portal.giftcards.views import blueprint as giftcards
    from portal.hipaa.views import blueprint as hipaa
    from portal.messages.views import blueprint as messages
    from portal.policies.admin_views import blueprint as policies_admin
    from portal.policies.views import blueprint as policies
    from portal.retention.views import blueprint as retention
    from portal.schedule.views import blueprint as schedule
    from portal.staff.views import blueprint as staff
    from portal.support.views import blueprint as support
    from portal.web.errors import register_error_handlers
    from portal.web.health import blueprint as health

    app.register_blueprint(health)
    app.register_blueprint(booking)
    app.register_blueprint(policies)
    app.register_blueprint(staff_auth)
    app.register_blueprint(passkeys)
    app.register_blueprint(staff)
    app.register_blueprint(schedule)
    app.register_blueprint(catalog)
    app.register_blueprint(clients)
    app.register_blueprint(embedding)
    app.register_blueprint(policies_admin)
    app.register_blueprint(client_accounts)
    app.register_blueprint(hipaa)
    app.register_blueprint(support)
    app.register_blueprint(audit_views)
    app.register_blueprint(retention)
    app.register_blueprint(giftcards)
    app.register_blueprint(messages)
    app.register_blueprint(branding)
    app.register_blueprint(branding_public)
    register_error_handlers(app)


def register_templating(app: Flask) -> None:
    from portal.booking.calendar_cells import register as register_calendar_cells
    from portal.web.formatting import register_filters

    register_filters(app)
    register_calendar_cells(app)


def register_queue(app: Flask) -> None:
    """The task queue the worker (``portal worker``) consumes; requests only nudge it."""
    from portal.jobs.queue import build_queue

    app.extensions["portal_queue"] = build_queue(app)
