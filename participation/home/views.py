"""The home page: what is happening now and how to take part."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.route("/")
def index() -> str:
    return render_template("home/index.html")


@bp.route("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """The process is alive (no dependencies checked)."""
    return {"status": "ok"}, 200
