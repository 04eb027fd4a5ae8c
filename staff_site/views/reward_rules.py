"""Reward rule sets: the list with effective dates and status, one version's rules, a preview
quote, and, for city-scope administrators, adding a version (upload or paste JSON) and
withdrawing one that is not yet in force.

Administrators, finance officers and approvers and supervisors may read; the services check
the same roles again (``rewards.rules.services``). Every addition and withdrawal is audited
there. A rule set's own texts (title, notes, reasons) are shown in the reader's language from
the data, which carries both.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from werkzeug.wrappers.response import Response as BaseResponse

from core.accounts.models import Role
from core.errors import DomainError, Forbidden
from core.web import clock, db_session, rollback_request
from rewards.rules import EXCLUSIONS, QuoteInput, calculate
from rewards.rules.calculation import Quote, QuoteKind, parse_yuan, yuan
from rewards.rules.errors import RuleSetInvalid
from rewards.rules.services import (
    READ_ROLES,
    RuleSetView,
    add_rule_set,
    list_rule_sets,
    local_today,
    view_rule_set,
    withdraw_rule_set,
)
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms.reward_rules import (
    GRADE_LABELS,
    KIND_LABELS,
    ORIGIN_LABELS,
    STATUS_LABELS,
    VERIFICATION_LABELS,
    QuoteForm,
    RuleSetForm,
    WithdrawForm,
)

bp = Blueprint("reward_rules", __name__, url_prefix="/reward-rules")


def _lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and str(locale).startswith("en") else "zh"


def _can_edit() -> bool:
    user = current_user()
    return user.has_role(Role.ADMINISTRATOR) and user.is_city_scope


def _labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "verification_labels": VERIFICATION_LABELS,
        "origin_labels": ORIGIN_LABELS,
        "kind_labels": KIND_LABELS,
        "grade_labels": GRADE_LABELS,
        "exclusion_labels": {e.code: e.label for e in EXCLUSIONS},
        "lang": _lang(),
        "yuan": yuan,
    }


@bp.get("/")
@login_required
@roles_required(*READ_ROLES)
def index() -> str:
    views = list_rule_sets(db_session(), current_user(), local_today(clock()))
    return render_template(
        "staff_site/reward_rules/index.html",
        views=views,
        can_edit=_can_edit(),
        **_labels(),
    )


def _preview(view: RuleSetView, form: QuoteForm) -> tuple[Quote | None, str | None]:
    """The quote the preview form asks for, or the message of why it cannot be made."""
    if not request.args or not form.validate():
        return None, None
    kind: QuoteKind = "concealed_accident" if form.kind.data == "concealed_accident" else "hazard"
    try:
        fines: tuple[int, ...] = ()
        if kind == "hazard":
            lines = (form.penalties.data or "").split()
            fines = tuple(parse_yuan(line) for line in lines)
        inputs = QuoteInput(
            kind=kind,
            penalties_fen=fines,
            grade=(form.grade.data or None) if kind == "concealed_accident" else None,
            deaths=(form.deaths.data or 0) if kind == "concealed_accident" else 0,
            no_penalty=bool(form.no_penalty.data) and kind == "hazard",
        )
        return calculate(view.rule_set, inputs), None
    except DomainError as exc:
        return None, gettext(exc.message, **exc.params)


def _detail_page(
    rule_set_id: str, withdraw_form: WithdrawForm | None = None, status: int = 200
) -> tuple[str, int]:
    view = view_rule_set(db_session(), current_user(), rule_set_id, local_today(clock()))
    quote_form = QuoteForm(request.args if request.method == "GET" else None)
    quote, quote_problem = _preview(view, quote_form) if request.method == "GET" else (None, None)
    withdrawable = _can_edit() and view.version.origin == "admin" and view.status == "future"
    page = render_template(
        "staff_site/reward_rules/rule_set.html",
        view=view,
        rule_set=view.rule_set,
        can_edit=_can_edit(),
        withdrawable=withdrawable,
        withdraw_form=withdraw_form or WithdrawForm(),
        quote_form=quote_form,
        quote=quote,
        quote_problem=quote_problem,
        **_labels(),
    )
    return page, status


@bp.get("/<rule_set_id>")
@login_required
@roles_required(*READ_ROLES)
def rule_set(rule_set_id: str) -> tuple[str, int]:
    return _detail_page(rule_set_id)


@bp.get("/<rule_set_id>/download")
@login_required
@roles_required(*READ_ROLES)
def download(rule_set_id: str) -> BaseResponse:
    view = view_rule_set(db_session(), current_user(), rule_set_id, local_today(clock()))
    return Response(
        view.rule_set.body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{view.rule_set.id}.json"'},
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def new() -> Any:
    if not _can_edit():
        raise Forbidden()
    form = RuleSetForm()
    problems: list[tuple[str, str]] = []
    status = 200
    if request.method == "POST":
        status = 400
        text = form.json_text() if form.validate_on_submit() else None
        if text is not None:
            try:
                added = add_rule_set(db_session(), clock(), current_user(), text)
            except RuleSetInvalid as exc:
                rollback_request()
                form.form_errors.append(gettext(exc.message))
                problems = [(p.path, gettext(p.message, **p.params)) for p in exc.problems]
            except DomainError as exc:
                rollback_request()
                form.form_errors.append(gettext(exc.message, **exc.params))
                status = exc.status
            else:
                flash(gettext("Rule set %(rule_set)s was added.", rule_set=added.id))
                return redirect(url_for("reward_rules.rule_set", rule_set_id=added.id), code=303)
    return render_template(
        "staff_site/reward_rules/new.html",
        form=form,
        problems=problems,
        can_edit=_can_edit(),
    ), status


@bp.post("/<rule_set_id>/withdraw")
@login_required
@roles_required(Role.ADMINISTRATOR)
def withdraw(rule_set_id: str) -> Any:
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _detail_page(rule_set_id, form, 400)
    try:
        withdraw_rule_set(db_session(), clock(), current_user(), rule_set_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        rollback_request()
        form.form_errors.append(gettext(exc.message, **exc.params))
        return _detail_page(rule_set_id, form, exc.status)
    flash(gettext("Rule set %(rule_set)s was withdrawn.", rule_set=rule_set_id))
    return redirect(url_for("reward_rules.rule_set", rule_set_id=rule_set_id), code=303)
