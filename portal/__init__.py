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
    register_extensions(app)
    register_blueprints(app)
    register_templating(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal.extensions import csrf, db, limiter
    from portal.mail.transport import transport_from_config
    from portal.web.security import init_security_headers

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_security_headers(app)
    app.extensions["portal_mail"] = transport_from_config(app.config)


def register_blueprints(app: Flask) -> None:
    from portal.booking.views import blueprint as booking
    from portal.policies.views import blueprint as policies
    from portal.web.errors import register_error_handlers
    from portal.web.health import blueprint as health

    app.register_blueprint(health)
    app.register_blueprint(booking)
    app.register_blueprint(policies)
    register_error_handlers(app)


def register_templating(app: Flask) -> None:
    from portal.web.formatting import register_filters

    register_filters(app)
