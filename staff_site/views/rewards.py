"""Staff pages: rewards."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rewards", __name__, url_prefix="/rewards")
