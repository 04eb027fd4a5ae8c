"""The finance pages: rewards by state, one reward with its steps, totals by month and division,
the Excel export, and the payment details.

Who sees and does what is decided by the services (``rewards.services.common``: DESIGN.md's
role table); the views choose what to offer. Finance officers and approvers act; triage
officers (their scope) and supervisors read. Nobody here reads a report's content: the pages
show its routing values only. Payment details are opened by a POST of their own (audited by
the service) and shown in that response only — never in a flash, a URL or a log.

Every step is a POST with the CSRF token that calls one service and redirects to the reward
page with a flash. A refused step (a domain error) shows the page again with the message on the
form and the input kept. Forbidden and not-found go to the central error page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import format_decimal, get_locale, gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers.response import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from core.accounts.models import Role, User
from core.clock import local
from core.errors import DomainError, Forbidden, NotFound
from core.keys.errors import NoPersonalKey
from core.web import clock, db_session, rollback_request, settings_of
from registry.services import list_divisions
from rewards import services as rewards
from rewards.models import RewardKind, RewardState
from rewards.rules import EXCLUSIONS
from rewards.services.common import FINANCE_ROLES
from staff_site.auth import current_user, login_required, personal_key, roles_required
from staff_site.forms.rewards import (
    ACTION_LABELS,
    ANY,
    KIND_LABELS,
    METHOD_LABELS,
    NOT_ELIGIBLE_LABELS,
    STATE_LABELS,
    ActionForm,
    CalculateForm,
    DecisionForm,
    PaymentForm,
    RewardFilterForm,
    SendBackForm,
    TotalsForm,
)
from staff_site.views.common import act, blank_form, refused_errors, services

bp = Blueprint("rewards", __name__, url_prefix="/rewards")

READERS = (Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.TRIAGE_OFFICER, Role.SUPERVISOR)
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- template helpers


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """An amount in fen as ``¥3,000.00``."""
    if fen is None:
        return "—"
    text: str = format_decimal(fen / 100, format="#,##0.00")
    return "¥" + text


def _lang() -> str:
    return "zh" if get_locale().language == "zh" else "en"


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "reward_state_labels": STATE_LABELS,
        "reward_kind_labels": KIND_LABELS,
        "reward_method_labels": METHOD_LABELS,
        "reward_action_labels": ACTION_LABELS,
        "not_eligible_labels": NOT_ELIGIBLE_LABELS,
    }


def _division_names() -> dict[int, str]:
    return {d.id: d.name for d in list_divisions(db_session(), include_inactive=True)}


# ---------------------------------------------------------------- the list


@bp.get("/")
@login_required
@roles_required(*READERS)
def index() -> tuple[str, int]:
    user = current_user()
    form = RewardFilterForm(formdata=request.args)
    names = _division_names()
    city_wide = user.division_id is None or user.has_role(Role.SUPERVISOR)
    form.division.choices = [SelectChoice(ANY, gettext("Any division"))] + [
        SelectChoice(str(i), name) for i, name in names.items()
    ]
    status = 200
    filters = rewards.RewardFilters()
    if form.validate():
        filters = rewards.RewardFilters(
            state=RewardState(form.state.data) if form.state.data else None,
            division_id=int(form.division.data) if form.division.data else None,
        )
    else:
        status = 400
    try:
        page_no = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_no = 1
    session = db_session()
    page = rewards.list_rewards(session, user, filters, page=page_no, per_page=PAGE_SIZE)
    totals = rewards.state_totals(session, user, filters.division_id)
    keep = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "staff_site/rewards/index.html",
        form=form,
        page=page,
        totals=totals,
        names=names,
        city_wide=city_wide,
        keep=keep,
        finance=user.has_role(*FINANCE_ROLES),
        triage_reader=user.has_role(Role.TRIAGE_OFFICER),
    ), status


# ---------------------------------------------------------------- one reward


def _calculate_choices(form: CalculateForm, detail: rewards.RewardDetail) -> None:
    lang = _lang()
    form.exclusions.choices = [
        SelectChoice(e.code, e.label.zh if lang == "zh" else e.label.en) for e in EXCLUSIONS
    ]
    form.rule_set.choices = [SelectChoice(ANY, gettext("National (default)"))] + [
        SelectChoice(series, series) for series in detail.rule_set_choices if series != "national"
    ]


def _reward_page(
    reward_id: uuid.UUID,
    submitted: dict[str, FlaskForm] | None = None,
    status: int = 200,
    details: rewards.PaymentDetails | None = None,
) -> tuple[str, int]:
    user = current_user()
    detail = rewards.reward_detail(db_session(), clock(), user, reward_id)
    reward = detail.reward
    forms: dict[str, FlaskForm] = {
        "decision": blank_form(DecisionForm, "decision"),
        "calculate": blank_form(CalculateForm, "calculate"),
        "send_back": blank_form(SendBackForm, "send_back"),
        "approve": blank_form(ActionForm, "approve"),
        "offer": blank_form(ActionForm, "offer"),
        "details": blank_form(ActionForm, "details"),
        "payment": blank_form(PaymentForm, "payment"),
        **(submitted or {}),
    }
    decision = cast(DecisionForm, forms["decision"])
    if not (submitted and "decision" in submitted) and reward.kind is not None:
        decision.kind.data = reward.kind.value
        decision.fines.data = "\n".join(
            format_decimal(f / 100, format="0.00") for f in (reward.penalties_fen or ())
        )
        decision.no_penalty.data = bool(reward.no_penalty)
        decision.decision_number.data = reward.decision_number or ""
        decision.decision_date.data = reward.decision_date
        decision.grade.data = reward.accident_grade or ANY
        decision.deaths.data = reward.deaths
    _calculate_choices(cast(CalculateForm, forms["calculate"]), detail)
    payment = cast(PaymentForm, forms["payment"])
    if not (submitted and "payment" in submitted):
        payment.amount.data = format_decimal((reward.amount_fen or 0) / 100, format="0.00")
        payment.paid_on.data = local(clock().now()).date()
    shown = set(detail.steps) | ({"decision"} if "record_decision" in detail.steps else set())
    refused = refused_errors(submitted, shown | {"decision"})
    lang = _lang()
    explanation = [zh if lang == "zh" else en for zh, en in (reward.explanation or [])]
    exclusion_labels = {e.code: (e.label.zh if lang == "zh" else e.label.en) for e in EXCLUSIONS}
    return render_template(
        "staff_site/rewards/reward.html",
        detail=detail,
        reward=reward,
        tip=detail.tip,
        forms=forms,
        refused=refused,
        explanation=explanation,
        exclusion_labels=exclusion_labels,
        division=_division_names().get(reward.division_id, "?"),
        details=details,
        user=user,
        triage_reader=user.has_role(Role.TRIAGE_OFFICER),
        finance=user.active and user.has_role(*FINANCE_ROLES),
    ), status


@bp.get("/<uuid:reward_id>")
@login_required
@roles_required(*READERS)
def reward(reward_id: uuid.UUID) -> tuple[str, int]:
    return _reward_page(reward_id)


def _act(
    reward_id: uuid.UUID,
    name: str,
    form: FlaskForm,
    call: Callable[[User], object],
    *,
    done: Callable[[], str],
) -> BaseResponse | tuple[str, int]:
    """Run one service from ``form``; the reward page again with the problem on the form."""
    return act(
        form,
        call,
        again=lambda status: _reward_page(reward_id, {name: form}, status),
        done=done,
        to=url_for("rewards.reward", reward_id=reward_id),
    )


@bp.post("/<uuid:reward_id>/decision")
@login_required
@roles_required(Role.FINANCE_OFFICER)
def record_decision(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = DecisionForm(prefix="decision")

    def call(user: User) -> None:
        kind = RewardKind(form.kind.data)
        rewards.record_penalty_decision(
            *services(),
            user,
            reward_id,
            decision=rewards.PenaltyDecision(
                kind,
                penalties_fen=form.fines_fen(),
                no_penalty=bool(form.no_penalty.data),
                decision_number=form.decision_number.data or "",
                decision_date=form.decision_date.data,
                accident_grade=form.grade.data or None,
                deaths=form.deaths.data,
            ),
        )

    return _act(
        reward_id,
        "decision",
        form,
        call,
        done=lambda: gettext("The penalty decision is recorded."),
    )


@bp.post("/<uuid:reward_id>/calculate")
@login_required
@roles_required(Role.FINANCE_OFFICER)
def calculate(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = CalculateForm(prefix="calculate")
    detail = rewards.reward_detail(db_session(), clock(), current_user(), reward_id)
    _calculate_choices(form, detail)
    return _act(
        reward_id,
        "calculate",
        form,
        lambda user: rewards.calculate(
            *services(),
            user,
            reward_id,
            exclusions=list(form.exclusions.data or []),
            joint_position=form.joint_position.data,
            rule_set_id=form.rule_set.data or None,
        ),
        done=lambda: gettext("The reward is calculated. A finance approver must approve it."),
    )


@bp.post("/<uuid:reward_id>/send-back")
@login_required
@roles_required(Role.FINANCE_APPROVER)
def send_back(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = SendBackForm(prefix="send_back")
    return _act(
        reward_id,
        "send_back",
        form,
        lambda user: rewards.send_back(*services(), user, reward_id, note=form.note.data or ""),
        done=lambda: gettext("The calculation is sent back."),
    )


@bp.post("/<uuid:reward_id>/approve")
@login_required
@roles_required(Role.FINANCE_APPROVER)
def approve(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _act(
        reward_id,
        "approve",
        ActionForm(prefix="approve"),
        lambda user: rewards.approve(*services(), user, reward_id),
        done=lambda: gettext("The reward is approved."),
    )


@bp.post("/<uuid:reward_id>/offer")
@login_required
@roles_required(Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
def offer(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _act(
        reward_id,
        "offer",
        ActionForm(prefix="offer"),
        lambda user: rewards.offer(*services(), user, reward_id),
        done=lambda: gettext("The reward is offered; the reporter sees it on the status page."),
    )


@bp.post("/<uuid:reward_id>/payment")
@login_required
@roles_required(Role.FINANCE_OFFICER)
def record_payment(reward_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = PaymentForm(prefix="payment")

    def call(user: User) -> None:
        paid_on: dt.date = form.paid_on.data
        rewards.record_payment(
            *services(),
            user,
            reward_id,
            payment=rewards.Payment(
                form.voucher_number.data or "",
                paid_on,
                form.amount_fen(),
                form.claim_code.data or None,
            ),
        )

    return _act(
        reward_id,
        "payment",
        form,
        call,
        done=lambda: gettext("The payment is recorded; the reporter sees the reward as paid."),
    )


@bp.post("/<uuid:reward_id>/details")
@login_required
@roles_required(Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
def payment_details(reward_id: uuid.UUID) -> tuple[str, int]:
    """Decrypt the payment details for this response only (audited by the service)."""
    form = ActionForm(prefix="details")
    if not form.validate_on_submit():
        return _reward_page(reward_id, {"details": form}, 400)
    try:
        opened = rewards.open_payment_details(
            db_session(),
            clock(),
            settings_of(),
            current_user(),
            reward_id,
            personal_key=personal_key(),
        )
    except (Forbidden, NotFound):
        raise
    except (DomainError, NoPersonalKey) as exc:
        rollback_request()
        form.form_errors.append(gettext(exc.message, **exc.params))
        return _reward_page(reward_id, {"details": form}, exc.status)
    return _reward_page(reward_id, details=opened)


# ---------------------------------------------------------------- totals and export


@bp.get("/totals")
@login_required
@roles_required(Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.SUPERVISOR)
def totals() -> tuple[str, int]:
    user = current_user()
    form = TotalsForm(formdata=request.args)
    this_year = local(clock().now()).year
    valid = form.validate()
    year = form.year.data if valid and form.year.data else this_year
    session = db_session()
    rows = rewards.monthly_totals(session, user, year)
    names = _division_names()
    months = sorted({r.month for r in rows})
    divisions = sorted({r.division_id for r in rows}, key=lambda d: names.get(d, ""))
    cells = {(r.month, r.division_id): r for r in rows}
    by_month = {m: sum(r.amount_fen for r in rows if r.month == m) for m in months}
    by_division = {d: sum(r.amount_fen for r in rows if r.division_id == d) for d in divisions}
    return render_template(
        "staff_site/rewards/totals.html",
        form=form,
        year=year,
        months=months,
        divisions=divisions,
        cells=cells,
        by_month=by_month,
        by_division=by_division,
        total=sum(r.amount_fen for r in rows),
        count=sum(r.count for r in rows),
        names=names,
        states=rewards.state_totals(session, user),
    ), 200 if valid else 400


@bp.get("/export.xlsx")
@login_required
@roles_required(*FINANCE_ROLES)
def export() -> Response:
    """The rewards of the list's filters as an Excel workbook (audited by the service)."""
    form = RewardFilterForm(formdata=request.args)
    form.division.choices = [SelectChoice(ANY, "")] + [
        SelectChoice(str(i), name) for i, name in _division_names().items()
    ]
    filters = rewards.RewardFilters()
    if form.validate():
        filters = rewards.RewardFilters(
            state=RewardState(form.state.data) if form.state.data else None,
            division_id=int(form.division.data) if form.division.data else None,
        )
    body, _ = rewards.export_workbook(db_session(), clock(), current_user(), filters)
    stamp = local(clock().now()).strftime("%Y%m%d-%H%M")
    response = Response(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="qingling-rewards-{stamp}.xlsx"'
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
