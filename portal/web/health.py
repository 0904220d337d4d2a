"""``/healthz``: a JSON status that checks the database."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db, talisman

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@talisman(force_https=False)
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
