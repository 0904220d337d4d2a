"""WSGI entry point: ``gunicorn wsgi:app``."""

from portal import create_app
from portal.web.warmup import warm_up

app = create_app()
warm_up(app)
