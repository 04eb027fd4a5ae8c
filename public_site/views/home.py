"""The public home page: what the service is for and how it protects the reporter."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public_site/home.html")


@bp.get("/privacy")
def privacy() -> str:
    return render_template("public_site/privacy.html")
