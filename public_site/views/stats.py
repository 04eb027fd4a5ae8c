"""Public statistics: monthly counts of tips received, hazard cases opened and cases closed,
by division and by category, and the cases an administrator published as examples.

Nothing here can identify a reporter: no date finer than a calendar month, counts of 1 or 2
shown as "<3", no totals, a month's category breakdown withheld when it would give a
suppressed count away, and never any text of a tip (see :mod:`cases.dashboard`). The page
reads no query parameter and works without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import get_locale

from cases.dashboard import SMALL, Series, public_statistics
from cases.exports import STATE_NAMES
from core.web import clock, db_session
from public_site.labels import CATEGORY_LABELS
from registry.models import Division
from registry.services import list_divisions

bp = Blueprint("stats", __name__, url_prefix="/statistics")


def division_label(division: Division) -> str:
    """A division's name in the page's language (the Chinese name when there is no English)."""
    locale = get_locale()
    if locale is not None and str(locale).startswith("en") and division.name_en:
        return division.name_en
    return division.name


@bp.get("/")
def index() -> str:
    session = db_session()
    data = public_statistics(session, clock())
    # Every division by name: an example may sit in a division no longer listed in the tables.
    names = {d.id: division_label(d) for d in list_divisions(session, include_inactive=True)}
    return render_template(
        "public_site/stats/index.html",
        data=data,
        names=names,
        series=list(Series),
        category_labels=CATEGORY_LABELS,
        case_state_names=STATE_NAMES,
        small=SMALL,
    )
