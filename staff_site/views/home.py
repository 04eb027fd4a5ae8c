"""The staff home page: who is logged in, with what roles and scope, and where to go."""

from __future__ import annotations

from flask import Blueprint, render_template

from staff_site.auth import current_user, login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("staff_site/home.html", user=current_user())
