"""Views of the JSON API; see :mod:`public_site.api` for authentication and CSRF."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, jsonify, request
from flask_babel import force_locale, gettext
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.errors import DomainError, InvalidInput
from core.keys.pins import KeyPins
from core.web import JSON_ERROR_CODES, clock, db_session, rollback_request, settings_of
from intake import errors as intake_errors
from intake import media
from intake.access import ReporterAccess
from intake.models import Channel, Relationship, TipCategory
from intake.services import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    IDLE,
    MAX_ATTACHMENT_MB,
    MAX_ATTACHMENTS,
    MAX_ATTACHMENTS_MB,
    SHORT_TEXT_MAX,
    TipSubmission,
    open_reporter_session,
    receive_tip,
    reporter_access,
    reporter_overview,
)
from intake.services.reporter import ReporterOverview
from public_site.api import openapi
from public_site.labels import (
    CATEGORY_LABELS,
    RELATIONSHIP_LABELS,
    outcome_label,
    reporter_state_label,
    state_label,
)
from registry.services import SEARCH_MAX, FacilityHit, list_divisions, search_facilities
from rewards import services as rewards
from rewards.models import PaymentMethod
from rewards.services import ClaimDetails, ReporterReward
from triage.services import ReporterStatus, reporter_object, reporter_reply, reporter_status

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Service field names that the API calls otherwise.
CLAIM_DETAIL_KEYS = ("account_name", "bank", "account_number")
CLAIM_KEYS = frozenset({"token", "method", *CLAIM_DETAIL_KEYS})
API_FIELDS = {"division_id": "division", "observed_when": "observed_at", "attachments": "files"}
TIP_KEYS = frozenset(
    {
        "category",
        "division",
        "location",
        "facility_id",
        "facility_name",
        "description",
        "observed_at",
        "relationship",
        "contact",
        "real_name",
    }
)
_TEXT_KEYS = ("location", "facility_name", "description", "observed_at", "contact", "real_name")
_MAX_INT = 2**31 - 1


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = dict(fields or {})


def error_response(
    status: int, message: str, fields: Mapping[str, str] | None = None
) -> tuple[Response, int]:
    body = {
        "error": {
            "code": JSON_ERROR_CODES.get(status, "error"),
            "message": message,
            "fields": dict(fields or {}),
        }
    }
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    rollback_request()
    response, status = error_response(exc.status, exc.message, exc.fields)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="qingling"'
    return response, status


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> tuple[Response, int]:
    rollback_request()
    message = gettext(exc.message, **exc.params)
    status = exc.status
    field = getattr(exc, "field", "")
    if isinstance(exc, InvalidInput) and status == 400:
        status = 422  # the request was understood; a value in it is not acceptable
    fields = {API_FIELDS.get(field, field): message} if field else {}
    response, status = error_response(status, message, fields)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="qingling"'
    return response, status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: HTTPException) -> tuple[Response, int]:
    rollback_request()
    return error_response(413, gettext("What you sent is larger than this service accepts."))


# ---------------------------------------------------------------- input


def _json_object(raw: bytes | str, what: str = "body") -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, gettext("The request body is not valid JSON.")) from None
    if not isinstance(value, dict):
        raise ApiError(
            422,
            gettext("The request body must be a JSON object."),
            {what: gettext("Not an object.")},
        )
    return value


def _body_json() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, gettext("Send this request as application/json."))
    return _json_object(request.get_data(cache=False))


def _text_field(data: Mapping[str, Any], key: str, problems: dict[str, str]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems[key] = gettext("Must be a string.")
        return ""
    return value


def _int_field(data: Mapping[str, Any], key: str, problems: dict[str, str]) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_INT:
        problems[key] = gettext("Must be a whole number from 1.")
        return None
    return value


def submission_from_json(data: Mapping[str, Any]) -> TipSubmission:
    """The API's tip object as a :class:`TipSubmission`; types are checked here, the rules by
    the service (so both channels refuse the same values with the same messages)."""
    problems: dict[str, str] = {}
    for key in sorted(set(data) - TIP_KEYS):
        problems[key] = gettext("Unknown field.")
    text = {key: _text_field(data, key, problems) for key in _TEXT_KEYS}
    # Strings only: a list or an object cannot be looked up in a set (unhashable).
    category = data.get("category")
    if not isinstance(category, str) or category not in {c.value for c in TipCategory}:
        problems["category"] = gettext("Choose a hazard category.")
    relationship = data.get("relationship")
    if relationship is not None and (
        not isinstance(relationship, str) or relationship not in {r.value for r in Relationship}
    ):
        problems["relationship"] = gettext("Choose how you know about the hazard.")
    division = _int_field(data, "division", problems)
    if division is None and "division" not in problems:
        problems["division"] = gettext("Choose the town or street.")
    facility_id = _int_field(data, "facility_id", problems)
    if problems:
        raise ApiError(422, gettext("The report is not valid."), problems)
    return TipSubmission(
        description=text["description"],
        category=TipCategory(str(category)),
        division_id=division or 0,
        location=text["location"],
        facility_id=facility_id,
        facility_name=text["facility_name"],
        observed_when=text["observed_at"],
        relationship=Relationship(relationship) if relationship else None,
        contact=text["contact"],
        real_name=text["real_name"],
        channel=Channel.API,
    )


def _tip_and_files() -> tuple[dict[str, Any], list[Any]]:
    if request.mimetype == "multipart/form-data":
        part = request.files.get("tip")
        raw: bytes | str | None = part.read() if part is not None else request.form.get("tip")
        if raw is None:
            raise ApiError(
                422,
                gettext("The multipart request needs a JSON part named tip."),
                {"tip": gettext("Missing.")},
            )
        files = [cast(BinaryIO, f.stream) for f in request.files.getlist("files") if f.filename]
        return _json_object(raw, "tip"), files
    return _body_json(), []


def _bearer_access() -> ReporterAccess:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(
            401, gettext("Send the credential from POST /api/v1/session as a Bearer token.")
        )
    try:
        return reporter_access(db_session(), clock(), value.strip())
    except intake_errors.ReporterSessionEnded as exc:
        raise ApiError(401, gettext(exc.message)) from None


# ---------------------------------------------------------------- output


def _facility_json(hit: FacilityHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "name": hit.name,
        "address": hit.address,
        "division": {
            "id": hit.division_id,
            "name": hit.division_name,
            "name_en": hit.division_name_en,
        },
        "type": hit.facility_type,
        "status": hit.status.value,
    }


def _labels(label: Any) -> dict[str, str]:
    out = {}
    for locale in ("zh_CN", "en"):
        with force_locale(locale):
            out[locale] = str(label)
    return out


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _status_json(status: ReporterStatus) -> dict[str, Any]:
    """The handling of the report (``triage.services.reporter_status``); dates are days in
    Asia/Shanghai (``YYYY-MM-DD``), with the reward when the report has one."""
    return {
        "state": status.state.value,
        "state_label": _labels(reporter_state_label(status.state)),
        "deadline": _date(status.deadline),
        "extension_days": status.extension_days,
        "extension_reason": status.extension_reason,
        "decided_on": _date(status.decided_on),
        "not_accepted_reason": (
            None if status.not_accepted_reason is None else status.not_accepted_reason.value
        ),
        "transferred_to": status.transferred_to,
        "decision_text": status.decision_text,
        "outcome": None if status.outcome is None else status.outcome.value,
        "outcome_label": None if status.outcome is None else _labels(outcome_label(status.outcome)),
        "concluded_on": _date(status.concluded_on),
        "conclusion_text": status.conclusion_text,
        "objection_deadline": _date(status.objection_deadline),
        "can_object": status.can_object,
        "objected_on": _date(status.objected_on),
        "recheck_outcome": None if status.recheck_outcome is None else status.recheck_outcome.value,
        "rechecked_on": _date(status.rechecked_on),
        "recheck_conclusion_text": status.recheck_conclusion_text,
        "closed_on": _date(status.closed_on),
        "messages": [
            {"seq": m.seq, "author": m.author.value, "on": m.on.isoformat(), "body": m.body}
            for m in status.messages
        ],
        "awaiting_reply": status.awaiting_reply,
        "already_handled": status.already_handled,
        "reward": _reward_json(status.reward),
    }


def _reward_json(reward: ReporterReward | None) -> dict[str, Any] | None:
    """The reward of the report as its reporter sees it (``rewards.services.reporter_offer``);
    amounts in fen, dates local days."""
    if reward is None:
        return None
    return {
        "state": reward.state.value,
        "amount_fen": reward.amount_fen,
        "offered_on": _date(reward.offered_on),
        "claim_deadline": _date(reward.claim_deadline),
        "days_left": reward.days_left,
        "remind": reward.remind,
        "can_claim": reward.can_claim,
        "claimed_on": _date(reward.claimed_on),
        "payment_method": None if reward.payment_method is None else reward.payment_method.value,
        "paid_on": _date(reward.paid_on),
        "ended_on": _date(reward.ended_on),
    }


def _tip_json(overview: ReporterOverview, status: ReporterStatus) -> dict[str, Any]:
    tip = overview.tip
    return {
        "status": tip.state.value if hasattr(tip.state, "value") else str(tip.state),
        "status_label": _labels(state_label(str(tip.state.value))),
        "submitted_at": tip.submitted_at.isoformat().replace("+00:00", "Z"),
        "category": tip.category.value,
        "division": {
            "id": tip.division_id,
            "name": overview.division_name,
            "name_en": overview.division_name_en,
        },
        "facility": None if overview.facility is None else _facility_json(overview.facility),
        "facility_name": tip.content.facility_name,
        "description": tip.content.description,
        "location": tip.content.location,
        "observed_at": tip.content.observed_when,
        "relationship": tip.content.relationship.value if tip.content.relationship else None,
        "contact": tip.content.contact,
        "real_name": tip.content.real_name,
        "attachments": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "scrubbed": a.scrubbed,
            }
            for a in tip.attachments
        ],
        **_status_json(status),
    }


def _report(access: ReporterAccess) -> Response:
    """The report of ``access`` as ``GET /tip`` answers it."""
    return jsonify(
        _tip_json(
            reporter_overview(db_session(), access),
            reporter_status(db_session(), clock(), settings_of(), access),
        )
    )


def _text_body(key: str) -> str:
    """The one text of a reporter's message or objection: ``{"<key>": "..."}``."""
    data = _body_json()
    value = data.get(key)
    fields = {name: gettext("Unknown field.") for name in sorted(set(data) - {key})}
    if not isinstance(value, str):
        fields[key] = gettext("Must be a string.")
    if fields:
        raise ApiError(422, gettext("The request is not valid."), fields)
    return str(value)


def _reporter_action(key: str, action: Any) -> ReporterAccess:
    """Run a reporter service on the bearer's report (its access returned); a refused text
    names ``key``; a refusal of the step itself is the service's error (409)."""
    access = _bearer_access()
    text = _text_body(key)
    try:
        action(db_session(), clock(), settings_of(), access, text)
    except InvalidInput as exc:
        message = gettext(exc.message, **exc.params)
        raise ApiError(422, message, {key: message}) from None
    return access


# ---------------------------------------------------------------- routes


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())


@bp.post("/tips")
def create_tip() -> tuple[Response, int]:
    data, files = _tip_and_files()
    submission = submission_from_json(data)
    receipt = receive_tip(db_session(), clock(), settings_of(), submission, files)
    return jsonify({"token": receipt.token.display, "status": "submitted"}), 201


@bp.post("/session")
def create_session() -> tuple[Response, int]:
    data = _body_json()
    token = data.get("token")
    extra = sorted(set(data) - {"token"})
    if not isinstance(token, str) or extra:
        fields = {key: gettext("Unknown field.") for key in extra}
        if not isinstance(token, str):
            fields["token"] = gettext("Enter your tracking token.")
        raise ApiError(422, gettext("The request is not valid."), fields)
    try:
        opened = open_reporter_session(db_session(), clock(), settings_of(), token)
    except intake_errors.TokenTypo as exc:
        message = gettext(exc.message, **exc.params)
        raise ApiError(422, message, {"token": message}) from None
    return jsonify(
        {
            "access_token": opened.value,
            "token_type": "Bearer",
            "expires_in": int(IDLE.total_seconds()),
        }
    ), 201


@bp.get("/tip")
def get_tip() -> Response:
    return _report(_bearer_access())


@bp.post("/tip/messages")
def send_message() -> tuple[Response, int]:
    """The reporter's message; 201 with the report as ``GET /tip`` now shows it. 409 when the
    report is closed, 422 for an empty or over-long text."""
    access = _reporter_action("body", reporter_reply)
    response = _report(access)
    response.headers["Location"] = "/api/v1/tip"
    return response, 201


@bp.post("/tip/objection")
def object_to_conclusion() -> tuple[str, int]:
    """The reporter's objection to the conclusion; 204. 409 outside the objection window,
    after an earlier objection or without a conclusion; 422 for the text."""
    _reporter_action("reason", reporter_object)
    return "", 204


def _claim_input() -> tuple[str, ClaimDetails]:
    """``{"token", "method", "account_name", "bank", "account_number"}`` of a claim."""
    data = _body_json()
    problems = {name: gettext("Unknown field.") for name in sorted(set(data) - CLAIM_KEYS)}
    token = _text_field(data, "token", problems)
    method = data.get("method")
    if not isinstance(method, str) or method not in {m.value for m in PaymentMethod}:
        problems["method"] = gettext("Must be bank_transfer or in_person.")
        method = PaymentMethod.IN_PERSON.value
    details = {key: _text_field(data, key, problems) for key in CLAIM_DETAIL_KEYS}
    if problems:
        raise ApiError(422, gettext("The request is not valid."), problems)
    return token, ClaimDetails(PaymentMethod(method), **details)


@bp.post("/reward/claim")
def claim_reward() -> tuple[Response, int]:
    """Claim the offered reward: the token again, and the payment details, which are sealed to
    the finance group. 201 with the method and, for collection in person, the claim code (shown
    once). 409 without an open offer or after the claim deadline."""
    access = _bearer_access()
    token, details = _claim_input()
    receipt = rewards.claim_reward(
        db_session(),
        clock(),
        settings_of(),
        access,
        token_text=token,
        details=details,
        pins=KeyPins.for_settings(settings_of()),
    )
    return jsonify({"method": receipt.method.value, "claim_code": receipt.claim_code}), 201


@bp.post("/reward/decline")
def decline_reward() -> tuple[str, int]:
    """Decline the offered reward (final): the token again. 204; 409 without an open offer."""
    access = _bearer_access()
    token = _text_body("token")
    rewards.decline_reward(db_session(), clock(), settings_of(), access, token_text=token)
    return "", 204


@bp.get("/meta")
def meta() -> Response:
    return jsonify(
        {
            "categories": [
                {"value": c.value, "label": _labels(label)} for c, label in CATEGORY_LABELS.items()
            ],
            "relationships": [
                {"value": r.value, "label": _labels(label)}
                for r, label in RELATIONSHIP_LABELS.items()
            ],
            "divisions": [
                {"id": d.id, "name": d.name, "name_en": d.name_en}
                for d in list_divisions(db_session())
            ],
            "limits": {
                "description_min": DESCRIPTION_MIN,
                "description_max": DESCRIPTION_MAX,
                "text_max": SHORT_TEXT_MAX,
                "files_max": MAX_ATTACHMENTS,
                "file_mb_max": MAX_ATTACHMENT_MB,
                "files_mb_total_max": MAX_ATTACHMENTS_MB,
                "file_types": sorted({spec.mime_type for spec in media.KINDS.values()}),
                "session_seconds": int(IDLE.total_seconds()),
                "search_max": SEARCH_MAX,
            },
        }
    )


@bp.get("/facilities")
def facilities() -> Response:
    query = request.args.get("q", "")
    hits = search_facilities(db_session(), query)
    return jsonify({"facilities": [_facility_json(h) for h in hits]})
