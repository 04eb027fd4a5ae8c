"""The words of the WeChat channel, translated with an explicit language.

A chat reply is rendered while the push is handled (and cached for WeChat's retries), and a
notification by the job, outside any web request; so the language is an argument, never the
request's. Msgids are English, marked with ``N_`` for extraction, and translated here with the
site's own compiled catalogue (``core/translations``, the one Flask-Babel reads).

A passive text reply should stay under 2048 bytes; :func:`fit` cuts a reply to
:data:`REPLY_BYTES` at a character boundary.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping

from babel import Locale
from babel.support import NullTranslations, Translations

from core.errors import N_
from core.i18n import TRANSLATIONS
from intake.models import NotAcceptedReason, TipCategory, TipState
from triage.services.reporter import ReporterState

ZH = "zh_CN"
EN = "en"
LANGUAGES = (ZH, EN)
REPLY_BYTES = 2000


@functools.cache
def _catalogue(lang: str) -> NullTranslations:
    if lang == EN:  # msgids are English
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [Locale.parse(lang)])


def language(lang: str) -> str:
    return lang if lang in LANGUAGES else ZH


def translate(lang: str, msgid: str, **params: object) -> str:
    """``msgid`` in ``lang``, with ``%(name)s`` placeholders filled."""
    text = _catalogue(language(lang)).gettext(msgid)
    return text % params if params else text


def fit(text: str, limit: int = REPLY_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, with an ellipsis when cut."""
    if len(text.encode("utf-8")) <= limit:
        return text
    cut = text.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore")
    return cut + "…"


def clip(text: str, characters: int) -> str:
    """A reporter's or officer's text shortened for a chat line."""
    text = " ".join(text.split())
    return text if len(text) <= characters else text[: characters - 1] + "…"


def date(lang: str, value: dt.date) -> str:
    if language(lang) == EN:
        return value.isoformat()
    return f"{value.year}年{value.month}月{value.day}日"


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


# ---------------------------------------------------------------- labels
# The same msgids as the public site's labels (public_site/labels.py), so they share their
# translations; here they are plain strings, translated with an explicit language.

CATEGORIES: tuple[tuple[TipCategory, str], ...] = (
    (TipCategory.ELDERLY_CARE_SAFETY, N_("Elderly-care service safety")),
    (TipCategory.FIRE, N_("Fire safety")),
    (TipCategory.BUILDINGS, N_("Buildings and construction")),
    (TipCategory.GAS, N_("Gas")),
    (TipCategory.SPECIAL_EQUIPMENT, N_("Special equipment (lifts, boilers, pressure vessels)")),
    (TipCategory.OTHER, N_("Other")),
)
CATEGORY_LABELS: Mapping[TipCategory, str] = dict(CATEGORIES)

STATE_LABELS: Mapping[ReporterState, str] = {
    ReporterState.RECEIVED: N_("Received"),
    ReporterState.ACCEPTED: N_("Accepted"),
    ReporterState.NOT_ACCEPTED: N_("Not accepted"),
    ReporterState.TRANSFERRED: N_("Passed to another authority"),
    ReporterState.VERIFYING: N_("Being verified"),
    ReporterState.CONCLUDED: N_("Verification concluded"),
    ReporterState.RECHECKING: N_("Being checked again after your objection"),
    ReporterState.RECHECKED: N_("Checked again"),
    ReporterState.ALREADY_HANDLED: N_("Already being handled"),
    ReporterState.CLOSED: N_("Closed"),
}

STATE_EXPLANATIONS: Mapping[ReporterState, str] = {
    ReporterState.RECEIVED: N_(
        "Your report has arrived and is waiting for a triage officer to decide whether it is "
        "accepted for verification."
    ),
    ReporterState.ACCEPTED: N_("Your report was accepted; verification will start."),
    ReporterState.NOT_ACCEPTED: N_(
        "Your report was not accepted. The reason is given below when there is one."
    ),
    ReporterState.TRANSFERRED: N_(
        "Your report concerns another authority and was passed on to it."
    ),
    ReporterState.VERIFYING: N_(
        "Officers are verifying your report against the official judgment standards."
    ),
    ReporterState.CONCLUDED: N_("The verification has ended; its conclusion is below."),
    ReporterState.RECHECKING: N_(
        "You objected to the conclusion; the report is being checked again."
    ),
    ReporterState.RECHECKED: N_("The report was checked again after your objection."),
    ReporterState.ALREADY_HANDLED: N_(
        "The matter you reported is already being handled under an earlier report. You do "
        "not need to do anything."
    ),
    ReporterState.CLOSED: N_("The handling of your report has ended."),
}

#: A tip state (``intake.models.TipState``) in the reporter's words, for notifications.
PLAIN_STATES: Mapping[str, ReporterState] = {
    TipState.SUBMITTED: ReporterState.RECEIVED,
    TipState.ACCEPTED: ReporterState.ACCEPTED,
    TipState.NOT_ACCEPTED: ReporterState.NOT_ACCEPTED,
    TipState.TRANSFERRED: ReporterState.TRANSFERRED,
    TipState.VERIFYING: ReporterState.VERIFYING,
    TipState.SUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.PARTLY_SUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.UNSUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.RECHECKING: ReporterState.RECHECKING,
    TipState.RECHECKED: ReporterState.RECHECKED,
    TipState.DUPLICATE: ReporterState.ALREADY_HANDLED,
    TipState.CLOSED: ReporterState.CLOSED,
}

OUTCOME_LABELS: Mapping[TipState, str] = {
    TipState.SUBSTANTIATED: N_("Confirmed"),
    TipState.PARTLY_SUBSTANTIATED: N_("Partly confirmed"),
    TipState.UNSUBSTANTIATED: N_("Not confirmed"),
}

NOT_ACCEPTED_REASONS: Mapping[NotAcceptedReason, str] = {
    NotAcceptedReason.OUTSIDE_REMIT: N_("It is outside this bureau's remit."),
    NotAcceptedReason.NO_CLEAR_TARGET_OR_FACTS: N_(
        "It names no clear place or facts that could be verified."
    ),
    NotAcceptedReason.ALREADY_ACCEPTED: N_("The same matter has already been accepted."),
    NotAcceptedReason.OTHER_PROCEDURE: N_("It must be dealt with through another legal procedure."),
}
