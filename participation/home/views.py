"""The home page: what is happening now and how to take part."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from participation.db import utcnow
from participation.extensions import db
from participation.home.services import front_page

bp = Blueprint("home", __name__)


@bp.route("/")
def index() -> str:
    actor = current_user if current_user.is_authenticated else None
    page = front_page(db.session, actor, utcnow())
    return render_template("home/index.html", page=page)

