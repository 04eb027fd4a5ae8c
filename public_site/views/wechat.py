"""Public pages: wechat."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("wechat", __name__, url_prefix="/wechat")
