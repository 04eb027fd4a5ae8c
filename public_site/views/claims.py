"""The reporter's reward pages: claim an offered reward, or decline it.

Both need a reporter session (the status page's) *and* the tracking token typed again, so
someone who finds an open session on a shared device cannot send the reward elsewhere or give it
up. A claim is answered with a page of its own, not a redirect: for collection in person it
carries the claim code, shown there once (never in a flash, a cookie, a URL or a log), like the
token on the receipt; every page here is ``Cache-Control: no-store``.

The payment details go straight to :func:`rewards.services.claim_reward`, which seals them to
the finance key group; nothing of them is kept in the session, a flash or a log. A refusal (the
offer is gone, the deadline passed) returns to the status page with a flash that says only
that; a mistake in the form is shown on the form.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import format_decimal, gettext
from werkzeug.wrappers.response import Response as BaseResponse

from core.errors import DomainError
from core.keys.pins import KeyPins
from core.web import clock, db_session, rollback_request, settings_of
from intake import errors as intake_errors
from intake.access import ReporterAccess
from public_site.forms.claims import METHOD_LABELS, ClaimForm, DeclineForm
from public_site.views.common import (
    UNAVAILABLE,
    current_access,
    form_error,
    message_of,
    unavailable_page,
)
from rewards import errors as reward_errors
from rewards import services as rewards
from rewards.models import PaymentMethod

bp = Blueprint("claims", __name__, url_prefix="/reward")

_TOKEN_ERRORS = (intake_errors.TokenTypo, intake_errors.UnknownToken)
#: The offer is not (or no longer) there to act on: back to the status page, which says why.
_GONE = (reward_errors.NothingToClaim, reward_errors.ClaimWindowClosed)
#: Which form field a refused detail belongs to.
_DETAIL_FIELDS: dict[type[DomainError], str] = {
    reward_errors.AccountNumberInvalid: "account_number",
    reward_errors.ClaimDetailsInvalid: "account_name",
}


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """An amount in fen as the reporter reads it: ``¥3,000.00``."""
    if fen is None:
        return ""
    text: str = format_decimal(fen / 100, format="#,##0.00")
    return "¥" + text


def _ended() -> BaseResponse:
    flash(gettext("Your session has ended. Enter your tracking token again."), "notice")
    return redirect(url_for("reporter.entry"), code=303)


def _to_status(message: str) -> BaseResponse:
    flash(message, "notice")
    return redirect(url_for("reporter.status", _anchor="reward"), code=303)


def _offer(access: ReporterAccess) -> rewards.ReporterReward | None:
    """The open offer of this session's tip, or None."""
    seen = rewards.reporter_offer(
        db_session(), clock(), access.tip_id, reminder_days=settings_of().reward_reminder_days
    )
    return seen if seen is not None and seen.can_claim else None


def _session_offer() -> tuple[ReporterAccess, rewards.ReporterReward] | BaseResponse:
    """This browser's reporter session and its open offer, or where to go instead."""
    access = current_access()
    if access is None:
        return _ended()
    offer = _offer(access)
    if offer is None:
        return _to_status(gettext("There is no reward offer to claim or decline for this report."))
    return access, offer


def _refused(
    exc: DomainError, form: ClaimForm | DeclineForm, again: Callable[[int], tuple[str, int]]
) -> tuple[str, int] | BaseResponse:
    """The answer to a refused claim or decline: the form again with the problem on its field,
    the status page when the offer is gone, or the "not available" page."""
    if isinstance(exc, (reward_errors.FinanceKeyMissing, *UNAVAILABLE)):
        return unavailable_page()
    rollback_request()
    if isinstance(exc, _GONE):
        return _to_status(message_of(exc))
    field = "token" if isinstance(exc, _TOKEN_ERRORS) else _DETAIL_FIELDS.get(type(exc))
    if field is None:
        raise exc
    form_error(form, field, message_of(exc))
    return again(exc.status)


def _claim_page(form: ClaimForm, offer: rewards.ReporterReward, code: int = 200) -> tuple[str, int]:
    return render_template("public_site/claims/claim.html", form=form, offer=offer), code


def _decline_page(
    form: DeclineForm, offer: rewards.ReporterReward, code: int = 200
) -> tuple[str, int]:
    return render_template("public_site/claims/decline.html", form=form, offer=offer), code


@bp.get("/claim")
def claim_form() -> tuple[str, int] | BaseResponse:
    found = _session_offer()
    if isinstance(found, BaseResponse):
        return found
    return _claim_page(ClaimForm(formdata=None), found[1])


@bp.post("/claim")
def claim() -> tuple[str, int] | BaseResponse:
    found = _session_offer()
    if isinstance(found, BaseResponse):
        return found
    access, offer = found
    form = ClaimForm()
    if not form.validate():
        return _claim_page(form, offer, 400)
    settings = settings_of()
    details = rewards.ClaimDetails(
        PaymentMethod(form.method.data),
        account_name=form.account_name.data or "",
        bank=form.bank.data or "",
        account_number=form.account_number.data or "",
    )
    try:
        receipt = rewards.claim_reward(
            db_session(),
            clock(),
            settings,
            access,
            token_text=form.token.data or "",
            details=details,
            pins=KeyPins.for_settings(settings),
        )
    except DomainError as exc:
        return _refused(exc, form, lambda code: _claim_page(form, offer, code))
    return render_template(
        "public_site/claims/claimed.html",
        receipt=receipt,
        offer=offer,
        method_label=METHOD_LABELS[receipt.method],
    ), 200


@bp.get("/decline")
def decline_form() -> tuple[str, int] | BaseResponse:
    found = _session_offer()
    if isinstance(found, BaseResponse):
        return found
    return _decline_page(DeclineForm(formdata=None), found[1])


@bp.post("/decline")
def decline() -> tuple[str, int] | BaseResponse:
    found = _session_offer()
    if isinstance(found, BaseResponse):
        return found
    access, offer = found
    form = DeclineForm()
    if not form.validate():
        return _decline_page(form, offer, 400)
    try:
        rewards.decline_reward(
            db_session(), clock(), settings_of(), access, token_text=form.token.data or ""
        )
    except DomainError as exc:
        return _refused(exc, form, lambda code: _decline_page(form, offer, code))
    return _to_status(gettext("You have declined the reward."))
