"""Staff pages: standards."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("standards", __name__, url_prefix="/standards")
