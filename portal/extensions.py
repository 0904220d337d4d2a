"""Extension objects, created once and bound to an app in the factory."""

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_talisman import Talisman
from flask_wtf import CSRFProtect

from portal.db import Database

db = Database()
csrf = CSRFProtect()
talisman = Talisman()
login_manager = LoginManager()
limiter = Limiter(key_func=lambda: _client_address())


def _client_address() -> str:
    from flask import request

    return request.remote_addr or "unknown"
