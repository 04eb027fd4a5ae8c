"""Staff pages: reward_rules."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reward_rules", __name__, url_prefix="/reward-rules")
