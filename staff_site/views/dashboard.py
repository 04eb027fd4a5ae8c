"""The dashboard (figures and charts of the hazard cases, tips by state for those who see the
queue) and the exports of cases as Excel, CSV and JSON.

The figures and the scope come from :mod:`cases.dashboard` and :mod:`cases.exports`: a
supervisor or finance officer sees the city (and may pick a division), a case or triage
officer of a division sees that division. The charts are SVG drawn on the server (no
JavaScript), each followed by a table with the same numbers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale, gettext
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from cases import dashboard as figures
from cases import exports
from cases.dashboard import Bar, bar_chart, month_chart, scope_division
from cases.exports import CATEGORY_NAMES, STATE_NAMES, ExportFilters, ExportFormat
from cases.models import CaseState
from core.accounts.models import Role, User
from core.errors import InvalidInput
from core.web import clock, db_session
from registry.models import Division
from registry.services import list_divisions
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms.dashboard import ANY, DashboardForm, ExportForm
from staff_site.forms.triage import STATE_LABELS as TIP_STATE_LABELS

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

#: Who may open the dashboard (the services decide the scope, and refuse anyone else).
READERS = (
    Role.SUPERVISOR,
    Role.FINANCE_OFFICER,
    Role.FINANCE_APPROVER,
    Role.CASE_OFFICER,
    Role.TRIAGE_OFFICER,
)


def division_label(division: Division) -> str:
    """A division's name in the page's language (the Chinese name when there is no English)."""
    if get_locale() is not None and str(get_locale()).startswith("en") and division.name_en:
        return division.name_en
    return division.name


def _division_choices(user: User, divisions: list[Division]) -> list[SelectChoice]:
    own = scope_division(user)
    if own is None:
        return [SelectChoice(ANY, gettext("Whole city"))] + [
            SelectChoice(str(d.id), division_label(d)) for d in divisions
        ]
    return [SelectChoice(ANY, division_label(d)) for d in divisions if d.id == own]


def _charts(data: figures.Dashboard, names: dict[int, str]) -> dict[str, Markup]:
    """The SVG charts of the page. Every text in them is escaped by :mod:`cases.dashboard`,
    so the SVG is inserted as markup as it is."""
    charts = {
        "state": bar_chart(
            "chart-state",
            gettext("Hazard cases by state"),
            [Bar(gettext(STATE_NAMES[s]), data.by_state[s]) for s in CaseState],
        ),
        "category": bar_chart(
            "chart-category",
            gettext("Hazard cases by category"),
            [Bar(gettext(label), data.by_category[c]) for c, label in CATEGORY_NAMES.items()],
        ),
        "months": month_chart(
            "chart-months",
            gettext("Cases opened and closures per month"),
            [m.month for m in data.months],
            [
                (gettext("Opened"), [m.opened for m in data.months]),
                (gettext("Closures"), [m.closed for m in data.months]),
            ],
        ),
    }
    if len(data.by_division) > 1:
        charts["division"] = bar_chart(
            "chart-division",
            gettext("Hazard cases by division"),
            [Bar(names.get(r.division_id, "?"), r.total) for r in data.by_division],
        )
    return {key: Markup(svg) for key, svg in charts.items()}  # noqa: S704 - escaped when drawn


def _labels() -> dict[str, Any]:
    return {
        "case_state_names": STATE_NAMES,
        "case_category_names": CATEGORY_NAMES,
        "tip_state_labels": TIP_STATE_LABELS,
    }


@bp.get("/")
@login_required
@roles_required(*READERS)
def index() -> str | tuple[str, int]:
    user = current_user()
    session = db_session()
    divisions = list_divisions(session, include_inactive=True)
    names = {d.id: division_label(d) for d in divisions}
    form = DashboardForm(formdata=request.args)
    form.division.choices = _division_choices(user, divisions)
    status = 200
    division_id = None
    if form.validate():
        division_id = int(form.division.data) if form.division.data else None
    else:
        status = 400
    data = figures.dashboard(session, clock(), user, division_id=division_id)
    export_form = ExportForm(formdata=None, division=form.division.data or ANY)
    export_form.division.choices = _division_choices(user, divisions)
    return render_template(
        "staff_site/dashboard/index.html",
        form=form,
        export_form=export_form,
        data=data,
        names=names,
        charts=_charts(data, names),
        **_labels(),
    ), status


@bp.get("/export")
@login_required
@roles_required(*READERS)
def export_page() -> str:
    """The export form alone (also where a refused export comes back with its errors)."""
    user = current_user()
    scope_division(user)  # Forbidden for someone who may read no case
    form = ExportForm(formdata=request.args or None)
    form.division.choices = _division_choices(
        user, list_divisions(db_session(), include_inactive=True)
    )
    return render_template("staff_site/dashboard/export.html", form=form)


@bp.get("/export.<any(xlsx, csv, json):file_format>")
@login_required
@roles_required(*READERS)
def export(file_format: str) -> Response | tuple[str, int]:
    user = current_user()
    session = db_session()
    form = ExportForm(formdata=request.args)
    form.division.choices = _division_choices(user, list_divisions(session, include_inactive=True))
    if not form.validate():
        return render_template("staff_site/dashboard/export.html", form=form), 400
    filters = ExportFilters(
        division_id=int(form.division.data) if form.division.data else None,
        states=frozenset(CaseState(s) for s in form.state.data or ()),
        discovered_from=form.discovered_from.data,
        discovered_to=form.discovered_to.data,
    )
    try:
        result = exports.export_cases(
            session, clock(), user, filters, ExportFormat(file_format), translate=gettext
        )
    except InvalidInput as exc:
        form.form_errors.append(gettext(exc.message, **exc.params))
        return render_template("staff_site/dashboard/export.html", form=form), 400
    response = Response(result.content, mimetype=result.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
