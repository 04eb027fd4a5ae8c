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

from babel import Locale
from babel.support import NullTranslations, Translations

from core.i18n import TRANSLATIONS
from intake.models import CATEGORY_LABELS, TipCategory
from triage.services import reporter

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

CATEGORIES: tuple[tuple[TipCategory, str], ...] = tuple(CATEGORY_LABELS.items())

STATE_LABELS = reporter.STATE_LABELS
STATE_EXPLANATIONS = reporter.STATE_EXPLANATIONS
#: A tip state (``intake.models.TipState``) in the reporter's words, for notifications.
PLAIN_STATES = reporter.PLAIN_STATES
OUTCOME_LABELS = reporter.OUTCOME_LABELS
NOT_ACCEPTED_REASONS = reporter.NOT_ACCEPTED_REASON_LABELS
