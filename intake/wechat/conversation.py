"""The conversation of the WeChat channel: filing a tip by chat, and its status by token.

:func:`handle_push` takes one checked, decrypted push and returns the text of the passive reply
(or None for WeChat's ``success``: no reply). Each push is independent; what holds a
conversation together is the :class:`Draft`, stored in ``wechat_conversations`` found by
HMAC(pepper, OpenID) and encrypted under HKDF(pepper, OpenID) (``crypto.wechat``), so the
stored draft opens only when the same person writes again. It is deleted at submission, at
``取消``, on unsubscribe, and :data:`IDLE` after the last message.

**Retries.** WeChat re-delivers a push it got no answer to within five seconds, up to three
more times, possibly while the first is still running. Every push first *claims* its retry key
(a keyed hash of the MsgId; of sender, time and event for events) by inserting a row in
``wechat_replies``; the reply is stored in that row (encrypted under the sender's key: the
reply to a submission carries the new token) and a retry gets the same text, without doing
anything twice. A retry that arrives while the first is still running waits for it (the row is
locked until the first commits) or, past the time budget, gets ``success``. Rows go after
:data:`REPLY_TTL`.

**The steps** (Chinese commands first; each has an English twin, see :data:`COMMANDS`):
``举报`` → category → town or street → institution (registry search) or location → description
(several messages until ``完成``) → photos (``完成`` or ``跳过``) → optional location → summary
→ ``确认`` → the tip is filed through :func:`intake.services.receive_tip` (channel ``wechat``:
the same tip as one filed on the web) and the token is in the reply. Photos are downloaded
after the reply by the job (:mod:`intake.wechat.jobs`). ``查询`` (or a token on its own) gives
the status, a question waiting and a reward offer. ``取消``, ``帮助``, ``English``/``中文``
work at any step. ``订阅`` with a token asks for one notification (:mod:`.notifications`).

The first reply of a conversation always carries the privacy notice: Tencent sees the chat,
the account and the token; the web form is the more anonymous channel and replaces a token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from core.clock import Clock, hour_of
from core.errors import N_, DomainError
from core.settings import Settings
from crypto import envelope, tokens, wechat
from crypto.errors import CryptoError, InvalidToken
from intake import errors as intake_errors
from intake.access import ReporterAccess
from intake.models import CATEGORY_LABELS, Channel, MessageAuthor, Tip, TipCategory
from intake.services import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    MAX_ATTACHMENTS,
    SHORT_TEXT_MAX,
    TipSubmission,
    receive_tip,
    unlock_with_token,
)
from intake.wechat import notifications, texts
from intake.wechat.models import CachedReply, Conversation, Photo, PhotoState
from intake.wechat.protocol import Message
from intake.wechat.texts import EN, ZH, translate
from registry.services import get_facility_hit, list_divisions, search_facilities
from rewards.services import ReporterReward, ReporterRewardState
from triage.services import ReporterState, ReporterStatus, reporter_status

#: A conversation is discarded this long after its last message.
IDLE = dt.timedelta(minutes=30)
#: A reply is kept for WeChat's retries this long (its retries come within about 20 s).
REPLY_TTL = dt.timedelta(seconds=60)
#: WeChat deletes a MediaId this long after the message that carried it.
MEDIA_LIFETIME = dt.timedelta(days=3)
#: A push waits at most this long for a lock (a retry waiting for the first delivery).
LOCK_TIMEOUT_MS = 3000
#: PostgreSQL's SQLSTATE for a lock not obtained within lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"
#: Facilities listed for one search.
FACILITY_HITS = 8
#: ``wrap`` purposes (crypto.envelope) of what this module encrypts.
CONVERSATION_PURPOSE = "wechat/conversation"
REPLY_PURPOSE = "wechat/reply"
MEDIA_ID_PURPOSE = "wechat/media-id"


class Gate(Protocol):
    """Rate limits by sender, kept by the site (``public_site/views/wechat.py``).

    ``action`` is ``message`` (every push), ``token`` (a token derivation) or ``submit``;
    ``sender`` is the sender index (an HMAC, never the OpenID)."""

    def allow(self, action: str, sender: bytes) -> bool: ...


@dataclass(frozen=True)
class Links:
    """Addresses of the public site the replies point to."""

    report_url: str  # the web form: the more anonymous channel
    status_url: str  # status, answering questions, replacing a token
    consent_url: str  # where WeChat sends a reporter back after a notification consent


# ---------------------------------------------------------------- commands

START, QUERY, CANCEL, HELP, DONE, SKIP, CONFIRM = (
    "start",
    "query",
    "cancel",
    "help",
    "done",
    "skip",
    "confirm",
)
ENGLISH, CHINESE, SUBSCRIBE, UNSUBSCRIBE = "english", "chinese", "subscribe", "unsubscribe"

#: What a reporter may type for each command (compared after NFKC, trimming and casefolding).
COMMANDS: dict[str, frozenset[str]] = {
    START: frozenset({"举报", "我要举报", "report"}),
    QUERY: frozenset({"查询", "查询举报", "status", "query"}),
    CANCEL: frozenset({"取消", "cancel"}),
    HELP: frozenset({"帮助", "help", "?"}),
    DONE: frozenset({"完成", "done"}),
    SKIP: frozenset({"跳过", "skip"}),
    CONFIRM: frozenset({"确认", "confirm"}),
    ENGLISH: frozenset({"english", "英文", "英语", "en"}),
    CHINESE: frozenset({"中文", "chinese", "zh"}),
    SUBSCRIBE: frozenset({"订阅", "subscribe", "notify"}),
    UNSUBSCRIBE: frozenset({"退订", "unsubscribe"}),
}
#: Commands that take a token after them ("查询 7KQ2-…").
WITH_TOKEN = (QUERY, SUBSCRIBE)
#: Keys of the account's menu buttons (``CLICK`` events), see docs/wechat.md.
MENU_KEYS = {"REPORT": START, "QUERY": QUERY, "HELP": HELP, "SUBSCRIBE": SUBSCRIBE}

_TRAILING = " \t\r\n。.!！~～"


def normalise(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().strip(_TRAILING).casefold()


def command_of(value: str) -> tuple[str | None, str]:
    """The command a text is, and what follows it for the commands that take a token."""
    words = normalise(value)
    for name, spellings in COMMANDS.items():
        if words in spellings:
            return name, ""
    for name in WITH_TOKEN:
        for spelling in COMMANDS[name]:
            if words.startswith(spelling) and len(words) > len(spelling):
                rest = words[len(spelling) :].lstrip(" :：")
                if rest and _looks_like_token(rest):
                    return name, rest
    return None, ""


def _looks_like_token(value: str) -> bool:
    try:
        tokens.normalise_token(value)
    except InvalidToken as exc:
        return exc.reason == "letter_u"
    return True


# ---------------------------------------------------------------- the draft

IDLE_STEP = "idle"
CATEGORY = "category"
DIVISION = "division"
FACILITY = "facility"
FACILITY_PICK = "facility_pick"
DESCRIPTION = "description"
PHOTOS = "photos"
LOCATION = "location"
SUMMARY = "summary"
QUERY_STEP = "query"
SUBSCRIBE_STEP = "subscribe"
REPORT_STEPS = (CATEGORY, DIVISION, FACILITY, FACILITY_PICK, DESCRIPTION, PHOTOS, LOCATION, SUMMARY)


@dataclass
class Draft:
    """What a conversation remembers between pushes (stored encrypted, never logged)."""

    lang: str = ZH
    step: str = IDLE_STEP
    category: str | None = None
    division_id: int | None = None
    facility_id: int | None = None
    facility_name: str = field(default="", repr=False)
    location: str = field(default="", repr=False)
    description: list[str] = field(default_factory=list, repr=False)
    #: (MediaId, CreateTime) of each photo, in the order sent.
    photos: list[tuple[str, int]] = field(default_factory=list, repr=False)
    #: The ids behind the numbers of the last list shown (divisions, facilities).
    choices: list[int] = field(default_factory=list)
    #: The facility search term, kept as the place's name if no hit is chosen.
    typed: str = field(default="", repr=False)

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Draft:
        data: dict[str, Any] = json.loads(raw.decode("utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["photos"] = [(str(m), int(t)) for m, t in values.get("photos", [])]
        draft = cls(**values)
        draft.lang = texts.language(draft.lang)
        return draft

    def reset(self) -> None:
        """Forget the report (keep the language)."""
        blank = Draft(lang=self.lang)
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(blank, f.name))

    @property
    def reporting(self) -> bool:
        return self.step in REPORT_STEPS


def _clean(value: str, maximum: int) -> str:
    """A reporter's text as intake accepts it: no control characters but tab and newline, no
    replacement characters, trimmed, at most ``maximum`` characters."""
    kept = "".join(
        ch for ch in value if ch in "\t\n" or (unicodedata.category(ch) != "Cc" and ch != "\ufffd")
    )
    return kept.strip()[:maximum]


# ---------------------------------------------------------------- storage


def _pepper(settings: Settings) -> bytes:
    if not settings.token_pepper:
        raise intake_errors.IntakeNotReady()
    return wechat.channel_pepper(settings.token_pepper)


def _retry_key(pepper: bytes, index: bytes, message: Message) -> bytes:
    if message.msg_id is not None:
        # The sender too: a MsgId is unique per account, but nothing is lost by not relying
        # on it across senders.
        return wechat.keyed_hash(pepper, "retry", "message", index, message.msg_id)
    return wechat.keyed_hash(
        pepper,
        "retry",
        "event",
        index,
        message.create_time,
        message.msg_type,
        message.event,
        message.get("EventKey"),
    )


def _lock_timeout(session: Session) -> None:
    """On PostgreSQL, a push waits at most :data:`LOCK_TIMEOUT_MS` for a row lock (a retry
    behind the first delivery), so it answers within WeChat's five seconds."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}"))


@dataclass(frozen=True)
class _Claim:
    row: CachedReply
    first: bool  # this delivery answers; False: a retry of one already answered (or running)


def _claim(session: Session, retry_key: bytes, now: dt.datetime) -> _Claim:
    row = CachedReply(retry_key=retry_key, reply_enc=None, expires_at=now + REPLY_TTL)
    try:
        with session.begin_nested():
            session.add(row)
            # Flushed now, in a savepoint: the unique key is the claim. A concurrent retry
            # blocks on it until this request commits, then finds the stored reply.
            session.flush()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        # Still being answered by an earlier delivery after LOCK_TIMEOUT_MS: answer nothing
        # (``success``), as the protocol asks, rather than "send again", which would make the
        # reporter repeat a step the first delivery is completing.
        return _Claim(CachedReply(retry_key=retry_key, reply_enc=None, expires_at=now), False)
    except IntegrityError:
        existing = session.get(CachedReply, retry_key, populate_existing=True)
        if existing is None:  # removed between the insert and the read: answer nothing
            existing = CachedReply(retry_key=retry_key, reply_enc=None, expires_at=now)
        return _Claim(existing, first=False)
    return _Claim(row, first=True)


def _load(
    session: Session, index: bytes, key: bytes, now: dt.datetime
) -> tuple[Draft | None, bool]:
    """The sender's draft (None: no conversation) and whether an unfinished report expired."""
    row = session.get(Conversation, index, with_for_update=True)
    if row is None:
        return None, False
    try:
        raw = envelope.unpad(
            envelope.unwrap(key, row.state_enc, purpose=CONVERSATION_PURPOSE, context=(index,))
        )
        draft = Draft.from_bytes(raw)
    except (CryptoError, ValueError, TypeError, KeyError):
        session.delete(row)
        return None, False
    if row.expires_at <= now:
        session.delete(row)
        return Draft(lang=draft.lang), draft.reporting
    return draft, False


def _save(session: Session, index: bytes, key: bytes, draft: Draft, now: dt.datetime) -> None:
    sealed = envelope.wrap(
        key, envelope.pad(draft.to_bytes()), purpose=CONVERSATION_PURPOSE, context=(index,)
    )
    row = session.get(Conversation, index)
    if row is None:
        session.add(Conversation(sender_index=index, state_enc=sealed, expires_at=now + IDLE))
    else:
        row.state_enc = sealed
        row.expires_at = now + IDLE


def _forget(session: Session, index: bytes) -> None:
    session.execute(delete(Conversation).where(Conversation.sender_index == index))


def purge_expired(session: Session, now: dt.datetime) -> tuple[int, int]:
    """Delete expired conversations and cached replies; how many of each."""
    conversations = session.execute(delete(Conversation).where(Conversation.expires_at <= now))
    replies = session.execute(delete(CachedReply).where(CachedReply.expires_at <= now))
    return conversations.rowcount or 0, replies.rowcount or 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------- entry point


def handle_push(
    session: Session,
    clock: Clock,
    settings: Settings,
    message: Message,
    *,
    links: Links,
    gate: Gate,
) -> str | None:
    """The reply to one push (None: answer ``success``). Adds and flushes; never commits.

    Raises only what the database raises (a lock timeout on PostgreSQL among them); the view
    turns those into a "busy" reply.
    """
    pepper = _pepper(settings)
    now = clock.now()
    index = wechat.sender_index(pepper, message.sender)
    key = wechat.sender_key(pepper, message.sender)
    _lock_timeout(session)
    session.execute(delete(CachedReply).where(CachedReply.expires_at <= now))
    claim = _claim(session, _retry_key(pepper, index, message), now)
    if not claim.first:
        if claim.row.reply_enc is None:
            return None
        try:
            return envelope.unwrap(
                key, claim.row.reply_enc, purpose=REPLY_PURPOSE, context=(claim.row.retry_key,)
            ).decode("utf-8")
        except CryptoError:
            return None
    turn = _Turn(session, clock, settings, message, links, gate, pepper, index, key, now)
    reply = turn.run()
    if reply is not None:
        reply = texts.fit(reply)
        claim.row.reply_enc = envelope.wrap(
            key, reply.encode("utf-8"), purpose=REPLY_PURPOSE, context=(claim.row.retry_key,)
        )
    return reply


class _Turn:
    """One push worked through: load the draft, act, save it, say something."""

    def __init__(  # noqa: PLR0917 - the collaborators of handle_push, passed on once
        self,
        session: Session,
        clock: Clock,
        settings: Settings,
        message: Message,
        links: Links,
        gate: Gate,
        pepper: bytes,
        index: bytes,
        key: bytes,
        now: dt.datetime,
    ) -> None:
        self.session, self.clock, self.settings = session, clock, settings
        self.message, self.links, self.gate = message, links, gate
        self.pepper, self.index, self.key, self.now = pepper, index, key, now
        self.lines: list[str] = []
        self.draft = Draft()
        self.keep = True  # False: the conversation is deleted at the end of this turn

    # -------------------------------------------------------------- plumbing

    def say(self, msgid: str, **params: object) -> None:
        self.lines.append(translate(self.draft.lang, msgid, **params))

    def t(self, msgid: str, **params: object) -> str:
        return translate(self.draft.lang, msgid, **params)

    def run(self) -> str | None:
        message = self.message
        if message.event.lower() == "unsubscribe":
            # WeChat's rule: a user who unfollows is forgotten. No reply can be delivered.
            _forget(self.session, self.index)
            notifications.forget_subscriber(self.session, self.pepper, message.sender)
            return None
        loaded, expired = _load(self.session, self.index, self.key, self.now)
        fresh = loaded is None or expired
        self.draft = loaded or Draft(lang=texts.language(self.settings.default_locale))
        if not self.gate.allow("message", self.index):
            self.say(N_("Too many messages. Please wait a few minutes and try again."))
            return "\n\n".join(self.lines)
        if expired:
            self.say(
                N_(
                    "Your unfinished report was discarded after %(minutes)s minutes without a "
                    "message. Nothing was sent."
                ),
                minutes=int(IDLE.total_seconds() // 60),
            )
        handled = self.dispatch()
        if handled is False:
            return None
        if fresh and self.lines:
            self.lines.insert(0, self.notice())
        if self.keep:
            _save(self.session, self.index, self.key, self.draft, self.now)
        else:
            _forget(self.session, self.index)
        return "\n\n".join(self.lines) if self.lines else None

    def notice(self) -> str:
        return self.t(
            N_(
                "Qingling hazard reporting. Please note: Tencent can see this chat, your WeChat "
                "account and any tracking token shown here. For a more anonymous report, use "
                "the web form without WeChat: %(report_url)s — there you can also replace a "
                "token that was shown here: %(status_url)s"
            ),
            report_url=self.links.report_url,
            status_url=self.links.status_url,
        )

    # -------------------------------------------------------------- dispatch

    def dispatch(self) -> bool:
        """Act on the push; False when nothing at all should be answered."""
        message = self.message
        kind = message.msg_type
        if kind == "event":
            return self.on_event()
        if kind == "text":
            self.on_text(_clean(message.get("Content"), DESCRIPTION_MAX + 100))
        elif kind == "image":
            self.on_image()
        elif kind == "location":
            self.on_location()
        elif kind == "voice":
            self.say(N_("Voice messages cannot be used here. Please type your message."))
        elif kind in {"video", "shortvideo"}:
            self.say(
                N_(
                    "Videos cannot be sent here. To include a video, use the web form: "
                    "%(report_url)s"
                ),
                report_url=self.links.report_url,
            )
        else:
            self.say(N_("Please send text, photos or a location."))
        return True

    def on_event(self) -> bool:
        message = self.message
        event = message.event.lower()
        if event == "subscribe":
            self.draft.reset()
            self.help()
            return True
        if event == "click":
            name = MENU_KEYS.get(message.get("EventKey").strip().upper())
            if name is None:
                return False
            self.command(name, "")
            return True
        # LOCATION reports, VIEW, scans, picture and location pickers (their results arrive as
        # ordinary messages): nothing to answer, nothing stored.
        return False

    def on_text(self, content: str) -> None:
        name, rest = command_of(content)
        if name is not None:
            self.command(name, rest)
            return
        step = self.draft.step
        handler: Callable[[str], None] | None = {
            CATEGORY: self.category_answer,
            DIVISION: self.division_answer,
            FACILITY: self.facility_search,
            FACILITY_PICK: self.facility_pick,
            DESCRIPTION: self.description_text,
            PHOTOS: self.photos_text,
            LOCATION: self.location_text,
            SUMMARY: self.summary_text,
            QUERY_STEP: self.query,
            SUBSCRIBE_STEP: self.subscribe,
        }.get(step)
        if handler is not None:
            handler(content)
        elif _looks_like_token(content):
            self.query(content)
        else:
            self.say(N_("I did not understand that."))
            self.help()

    def command(self, name: str, rest: str) -> None:
        if name in WITH_TOKEN:
            self.leave_report()
            if name == QUERY:
                self.query_command(rest)
            else:
                self.subscribe_command(rest)
            return
        {
            HELP: self.help_command,
            ENGLISH: self.english,
            CHINESE: self.chinese,
            CANCEL: self.cancel,
            START: self.start,
            UNSUBSCRIBE: self.unsubscribe,
            DONE: self.done,
            SKIP: self.skip,
            CONFIRM: self.confirm,
        }[name]()

    def help_command(self) -> None:
        self.help()
        if self.draft.step != IDLE_STEP:
            self.prompt()

    def english(self) -> None:
        self.draft.lang = EN
        self.say(N_("Replies are now in English. Send 中文 for Chinese."))
        self.prompt()

    def chinese(self) -> None:
        self.draft.lang = ZH
        self.say(N_("Replies are now in Chinese. Send English for English."))
        self.prompt()

    def cancel(self) -> None:
        if self.draft.reporting:
            self.say(N_("Your report was discarded. Nothing was sent."))
        elif self.draft.step != IDLE_STEP:  # waiting for a token
            self.say(N_("Cancelled."))
        else:
            self.say(N_("There is nothing to cancel."))
        self.draft.reset()

    def start(self) -> None:
        if self.draft.reporting:
            self.say(N_("Your unfinished report was discarded; starting again."))
        self.draft.reset()
        self.draft.step = CATEGORY
        self.prompt()

    def query_command(self, rest: str) -> None:
        if rest:
            self.query(rest)
        else:
            self.draft.step = QUERY_STEP
            self.prompt()

    def subscribe_command(self, rest: str) -> None:
        if not notifications.available(self.settings):
            self.say(N_("Notifications are not available. Send 查询 to check your report."))
            self.draft.step = IDLE_STEP
        elif rest:
            self.subscribe(rest)
        else:
            self.draft.step = SUBSCRIBE_STEP
            self.prompt()

    def unsubscribe(self) -> None:
        count = notifications.forget_subscriber(self.session, self.pepper, self.message.sender)
        if count:
            self.say(N_("You will not be notified about your reports."))
        else:
            self.say(N_("You have no notifications to withdraw."))

    def confirm(self) -> None:
        if self.draft.step == SUMMARY:
            self.submit()
        else:
            self.say(N_("There is no report to send yet."))
            self.prompt_or_help()

    def leave_report(self) -> None:
        if self.draft.reporting:
            self.say(N_("Your unfinished report was discarded."))
            self.draft.reset()

    def help(self) -> None:
        self.say(
            N_(
                "Send one of these words:\n"
                "举报 (report) – report a hazard\n"
                "查询 (status) – follow a report with its tracking token\n"
                "订阅 (notify) – be told once when a report's state changes\n"
                "取消 (cancel) – discard the report you are writing\n"
                "帮助 (help) – this list\n"
                "English / 中文 – change the language"
            )
        )

    # -------------------------------------------------------------- prompts

    def prompt(self) -> None:
        draft = self.draft
        step = draft.step
        if step == CATEGORY:
            choices = "\n".join(
                f"{n} {self.t(label)}" for n, (_, label) in enumerate(texts.CATEGORIES, start=1)
            )
            self.say(
                N_("What kind of hazard is it? Reply with the number:\n%(choices)s"),
                choices=choices,
            )
        elif step == DIVISION:
            divisions = list_divisions(self.session)
            draft.choices = [d.id for d in divisions]
            choices = "\n".join(
                f"{n} {d.name if draft.lang == ZH else (d.name_en or d.name)}"
                for n, d in enumerate(divisions, start=1)
            )
            self.say(
                N_("In which town or street is it? Reply with the number:\n%(choices)s"),
                choices=choices,
            )
        elif step == FACILITY:
            self.say(
                N_(
                    "Type the name of the institution (for example an elderly-care home) to "
                    "find it in the registry. If the hazard is not at an institution, send its "
                    "location instead (+ → Location), or reply 跳过 (skip)."
                )
            )
        elif step == FACILITY_PICK:
            self.say(
                N_(
                    "Reply with the number of the institution, or 0 if it is none of these "
                    "(what you typed is then kept as the name of the place)."
                )
            )
        elif step == DESCRIPTION:
            self.say(
                N_(
                    "Describe the hazard: what you saw, where exactly, since when. You can send "
                    "several messages, and photos. Reply 完成 (done) when you have finished."
                )
            )
        elif step == PHOTOS:
            self.say(
                N_(
                    "Send photos of the hazard if you have them (at most %(max)s). Their "
                    "location and camera details are removed before they are stored. Reply "
                    "完成 (done) when you have finished, or 跳过 (skip)."
                ),
                max=MAX_ATTACHMENTS,
            )
        elif step == LOCATION:
            self.say(
                N_(
                    "Optional: send the location of the hazard (+ → Location), or type its "
                    "address. Reply 跳过 (skip) to leave it out."
                )
            )
        elif step == SUMMARY:
            self.summary()
        elif step in {QUERY_STEP, SUBSCRIBE_STEP}:
            self.say(
                N_(
                    "Send your tracking token (16 characters, such as 7KQ2-M9XD-4R8T-ZP3W), "
                    "or 取消 (cancel)."
                )
            )

    # -------------------------------------------------------------- steps

    def _number(self, content: str, count: int) -> int | None:
        value = normalise(content)
        # ASCII digits, a few of them: "²" is a digit int() refuses, and int() refuses more
        # than 4300 digits (both were a failure inside, found by tests/hostile).
        if value.isascii() and value.isdigit() and len(value) <= 6 and 1 <= int(value) <= count:
            return int(value)
        return None

    def category_answer(self, content: str) -> None:
        number = self._number(content, len(texts.CATEGORIES))
        if number is None:
            self.say(N_("Please reply with one of the numbers."))
            self.prompt()
            return
        self.draft.category = texts.CATEGORIES[number - 1][0].value
        self.draft.step = DIVISION
        self.prompt()

    def division_answer(self, content: str) -> None:
        number = self._number(content, len(self.draft.choices))
        if number is None:
            self.say(N_("Please reply with one of the numbers."))
            self.prompt()
            return
        self.draft.division_id = self.draft.choices[number - 1]
        self.draft.choices = []
        self.draft.step = FACILITY
        self.prompt()

    def facility_search(self, content: str) -> None:
        term = _clean(content, SHORT_TEXT_MAX)
        if not term:
            self.prompt()
            return
        hits = search_facilities(self.session, term, limit=50)
        chosen = self.draft.division_id
        hits.sort(key=lambda h: h.division_id != chosen)  # the chosen division's first
        hits = hits[:FACILITY_HITS]
        self.draft.typed = term
        if not hits:
            self.draft.facility_id = None
            self.draft.facility_name = term
            self.say(N_("It is not in the registry; what you typed is kept as the place's name."))
            self.to_description()
            return
        self.draft.choices = [h.id for h in hits]
        lines = []
        for n, hit in enumerate(hits, start=1):
            if self.draft.lang == ZH:
                lines.append(
                    f"{n} {hit.name}（{hit.division_name}，{texts.clip(hit.address, 30)}）"
                )
            else:
                division = hit.division_name_en or hit.division_name
                lines.append(f"{n} {hit.name} ({division}, {texts.clip(hit.address, 30)})")
        self.say(N_("Found in the registry:\n%(choices)s"), choices="\n".join(lines))
        self.draft.step = FACILITY_PICK
        self.prompt()

    def facility_pick(self, content: str) -> None:
        value = normalise(content)
        if value == "0":
            self.draft.facility_id = None
            self.draft.facility_name = self.draft.typed
            self.draft.choices = []
            self.to_description()
            return
        number = self._number(content, len(self.draft.choices))
        if number is None:
            self.facility_search(content)  # a new search term
            return
        hit = get_facility_hit(self.session, self.draft.choices[number - 1])
        if hit is None:
            self.say(N_("This institution is no longer in the registry. Search again."))
            self.draft.step = FACILITY
            return
        self.draft.facility_id = hit.id
        self.draft.facility_name = ""
        if hit.division_id != self.draft.division_id:
            self.draft.division_id = hit.division_id
        self.draft.choices = []
        self.to_description()

    def to_description(self) -> None:
        self.draft.step = DESCRIPTION
        self.prompt()

    def description_text(self, content: str) -> None:
        total = sum(len(part) for part in self.draft.description) + len(self.draft.description)
        if total + len(content) > DESCRIPTION_MAX:
            self.say(
                N_(
                    "The description would be too long (at most %(max)s characters); this "
                    "message was not added. Reply 完成 (done) to go on."
                ),
                max=DESCRIPTION_MAX,
            )
            return
        if content:
            self.draft.description.append(content)
        self.say(
            N_("Noted (%(count)s characters so far). Send more, or reply 完成 (done)."),
            count=len(self._description()),
        )

    def _description(self) -> str:
        return "\n".join(self.draft.description)

    def photos_text(self, _content: str) -> None:
        self.say(N_("Send photos, or reply 完成 (done)."))

    def location_text(self, content: str) -> None:
        self.draft.location = _clean(content, SHORT_TEXT_MAX)
        self.draft.step = SUMMARY
        self.prompt()

    def summary_text(self, _content: str) -> None:
        self.say(N_("Reply 确认 (confirm) to send the report, or 取消 (cancel) to discard it."))

    def done(self) -> None:
        draft = self.draft
        if draft.step == DESCRIPTION:
            if len(self._description()) < DESCRIPTION_MIN:
                self.say(
                    N_("Please describe the hazard in at least %(min)s characters."),
                    min=DESCRIPTION_MIN,
                )
                return
            draft.step = PHOTOS
            self.prompt()
        elif draft.step == PHOTOS:
            self.after_photos()
        elif draft.step == LOCATION:
            draft.step = SUMMARY
            self.prompt()
        else:
            self.say(N_("I did not understand that."))
            self.prompt_or_help()

    def skip(self) -> None:
        draft = self.draft
        if draft.step in {FACILITY, FACILITY_PICK}:
            draft.facility_id = None
            draft.facility_name = ""
            draft.choices = []
            self.to_description()
        elif draft.step == PHOTOS:
            self.after_photos()
        elif draft.step == LOCATION:
            draft.step = SUMMARY
            self.prompt()
        else:
            self.say(N_("This step cannot be skipped."))
            self.prompt_or_help()

    def prompt_or_help(self) -> None:
        if self.draft.step == IDLE_STEP:
            self.help()
        else:
            self.prompt()

    def after_photos(self) -> None:
        self.draft.step = SUMMARY if self.draft.location else LOCATION
        self.prompt()

    def on_image(self) -> None:
        draft = self.draft
        media_id = self.message.get("MediaId").strip()
        if draft.step not in {DESCRIPTION, PHOTOS, LOCATION, SUMMARY}:
            self.say(N_("To send photos, start a report first: send 举报 (report)."))
            return
        if not (media_id and len(media_id) <= 256 and media_id.isascii()):
            self.say(N_("This photo could not be received. Please send it again."))
            return
        if len(draft.photos) >= MAX_ATTACHMENTS:
            self.say(
                N_("A report can have at most %(max)s photos; this one was not added."),
                max=MAX_ATTACHMENTS,
            )
            return
        draft.photos.append((media_id, self.message.create_time))
        self.say(N_("Photo %(count)s received."), count=len(draft.photos))
        if draft.step == SUMMARY:
            self.prompt()
        elif draft.step == DESCRIPTION:
            self.say(N_("Send more, or reply 完成 (done) when the description is finished."))
        else:
            self.say(N_("Send more, or reply 完成 (done)."))

    def on_location(self) -> None:
        draft = self.draft
        if draft.step not in {FACILITY, FACILITY_PICK, LOCATION, SUMMARY}:
            self.say(N_("A location is used only at its step of a report."))
            self.prompt_or_help()
            return
        latitude = self.message.get("Location_X").strip()
        longitude = self.message.get("Location_Y").strip()
        label = _clean(self.message.get("Label"), 300)
        try:
            point = f"{float(latitude):.6f}, {float(longitude):.6f}"
        except ValueError:
            self.say(N_("This location could not be read. Please send it again."))
            return
        draft.location = f"{label} ({point})" if label else point
        self.say(N_("Location received."))
        if draft.step in {FACILITY, FACILITY_PICK}:
            draft.facility_id = None
            draft.facility_name = draft.typed if draft.step == FACILITY_PICK else ""
            draft.choices = []
            self.to_description()
        else:
            draft.step = SUMMARY
            self.prompt()

    def summary(self) -> None:
        draft = self.draft
        none = self.t(N_("none"))
        category = self.t(CATEGORY_LABELS[TipCategory(draft.category)]) if draft.category else none
        division = none
        for d in list_divisions(self.session, include_inactive=True):
            if d.id == draft.division_id:
                division = d.name if draft.lang == ZH else (d.name_en or d.name)
        place = none
        if draft.facility_id is not None:
            hit = get_facility_hit(self.session, draft.facility_id)
            place = self.t(N_("%(name)s (registered)"), name=hit.name) if hit else none
        elif draft.facility_name:
            place = draft.facility_name
        self.say(
            N_(
                "Please check your report:\n"
                "Kind: %(category)s\n"
                "Town or street: %(division)s\n"
                "Institution: %(place)s\n"
                "Location: %(location)s\n"
                "Photos: %(photos)s\n"
                "Description: %(description)s\n\n"
                "Reply 确认 (confirm) to send it, or 取消 (cancel) to discard it."
            ),
            category=category,
            division=division,
            place=texts.clip(place, 60),
            location=texts.clip(draft.location, 80) if draft.location else none,
            photos=len(draft.photos),
            description=texts.clip(self._description(), 300),
        )

    # -------------------------------------------------------------- submission

    def submit(self) -> None:
        draft = self.draft
        if not self.gate.allow("submit", self.index):
            self.say(N_("Too many reports in a short time. Please try again later."))
            return
        if draft.category is None or draft.division_id is None:  # a draft from another version
            self.say(N_("Your report is incomplete; please start again with 举报 (report)."))
            draft.reset()
            return
        submission = TipSubmission(
            description=self._description(),
            category=TipCategory(draft.category),
            division_id=draft.division_id,
            location=draft.location,
            facility_id=draft.facility_id,
            facility_name="" if draft.facility_id else draft.facility_name,
            channel=Channel.WECHAT,
        )
        try:
            with self.session.begin_nested():
                receipt = receive_tip(self.session, self.clock, self.settings, submission)
                self._pending_photos(receipt.tip_id, draft.photos)
        except DomainError as exc:
            if exc.status >= 500:
                self.say(
                    N_(
                        "Reporting is not available right now. Nothing was sent; your report "
                        "is kept for %(minutes)s minutes. Reply 确认 (confirm) to try again."
                    ),
                    minutes=int(IDLE.total_seconds() // 60),
                )
            else:
                self.say(exc.message, **exc.params)
                self.say(N_("Send 取消 (cancel) and start again if it cannot be corrected."))
            return
        token = receipt.token.display
        count = len(draft.photos)
        draft.reset()
        self.keep = False
        self.say(
            N_(
                "Your report was received.\n\nTracking token: %(token)s\n\nKeep it secret and "
                "safe: anyone holding it can read your report, and it cannot be recovered if "
                "lost. Send 查询 (status) with it to follow your report. Tencent has seen this "
                "token; you can replace it on the web: %(status_url)s"
            ),
            token=token,
            status_url=self.links.status_url,
        )
        if count:
            self.say(
                N_("Your %(count)s photo(s) will be added to the report within a few minutes."),
                count=count,
            )
        if notifications.available(self.settings):
            self.say(
                N_(
                    "To be told once when the state of your report changes, send 订阅 "
                    "(notify) followed by your token."
                )
            )

    def _pending_photos(self, tip_id: uuid.UUID, photos: Sequence[tuple[str, int]]) -> None:
        media_key = wechat.channel_key(self.pepper, "media-id")
        for position, (media_id, sent) in enumerate(photos):
            photo_id = uuid.uuid4()
            sent_at = dt.datetime.fromtimestamp(min(sent, int(self.now.timestamp())), dt.UTC)
            self.session.add(
                Photo(
                    id=photo_id,
                    tip_id=tip_id,
                    position=position,
                    state=PhotoState.PENDING,
                    media_id_enc=envelope.wrap(
                        media_key,
                        media_id.encode("ascii"),
                        purpose=MEDIA_ID_PURPOSE,
                        context=(photo_id, tip_id),
                    ),
                    media_expires_at=hour_of(sent_at) + MEDIA_LIFETIME,
                    attempts=0,
                    # The hour, not the minute: the row must not date the submission exactly.
                    next_attempt_at=hour_of(self.now),
                )
            )

    # -------------------------------------------------------------- status and notifications

    def _unlock(self, content: str) -> ReporterAccess | None:
        """The reporter's access for a typed token, or None after saying why not."""
        if not self.gate.allow("token", self.index):
            self.say(N_("Too many attempts. Please wait a few minutes and try again."))
            return None
        try:
            return unlock_with_token(self.session, self.settings, content)
        except (intake_errors.TokenTypo, intake_errors.UnknownToken) as exc:
            self.say(exc.message, **exc.params)
            return None
        except DomainError:
            self.say(N_("Reports cannot be opened right now. Please try again later."))
            self.draft.step = IDLE_STEP
            return None

    def query(self, content: str) -> None:
        access = self._unlock(content)
        if access is None:
            if self.draft.step != QUERY_STEP:
                self.draft.step = QUERY_STEP
            return
        self.draft.step = IDLE_STEP
        status = reporter_status(self.session, self.clock, self.settings, access)
        self.status_lines(status, access.tip_id)

    def status_lines(self, status: ReporterStatus, tip_id: uuid.UUID) -> None:
        lang = self.draft.lang
        state: ReporterState = status.state
        self.say(
            N_("Report of %(date)s\nState: %(state)s\n%(explanation)s"),
            date=texts.date(lang, status.submitted_on),
            state=self.t(texts.STATE_LABELS[state]),
            explanation=self.t(texts.STATE_EXPLANATIONS[state]),
        )
        if status.deadline is not None:
            self.say(N_("Deadline of this step: %(date)s"), date=texts.date(lang, status.deadline))
        if status.not_accepted_reason is not None:
            self.say(
                N_("Reason: %(reason)s"),
                reason=self.t(texts.NOT_ACCEPTED_REASONS[status.not_accepted_reason]),
            )
        if status.transferred_to:
            self.say(N_("Passed to: %(authority)s"), authority=status.transferred_to)
        if status.decision_text:
            self.say(texts.clip(status.decision_text, 150))
        outcome = status.recheck_outcome or status.outcome
        if outcome is not None:
            text = status.recheck_conclusion_text or status.conclusion_text or ""
            self.say(
                N_("Conclusion: %(outcome)s\n%(text)s"),
                outcome=self.t(texts.OUTCOME_LABELS.get(outcome, outcome.value)),
                text=texts.clip(text, 200),
            )
        if status.can_object and status.objection_deadline is not None:
            self.say(
                N_(
                    "If you disagree, you can object until %(date)s on the web with your "
                    "token: %(status_url)s"
                ),
                date=texts.date(lang, status.objection_deadline),
                status_url=self.links.status_url,
            )
        if status.awaiting_reply:
            question = next(
                (m.body for m in reversed(status.messages) if m.author is MessageAuthor.OFFICER),
                "",
            )
            self.say(
                N_(
                    "An officer asked you a question:\n%(question)s\nAnswer it on the web "
                    "with your token: %(status_url)s"
                ),
                question=texts.clip(question, 200),
                status_url=self.links.status_url,
            )
        self.reward_lines(status.reward)

    def reward_lines(self, reward: ReporterReward | None) -> None:
        if reward is None:
            return
        lang = self.draft.lang
        amount = texts.yuan(reward.amount_fen) if reward.amount_fen is not None else ""
        state = reward.state
        if state is ReporterRewardState.CONSIDERING:
            self.say(N_("A reward for your report is being worked out."))
        elif state is ReporterRewardState.NOT_ELIGIBLE:
            self.say(N_("Your report does not qualify for a reward."))
        elif state is ReporterRewardState.OFFERED and reward.claim_deadline is not None:
            self.say(
                N_(
                    "A reward of %(amount)s yuan is offered to you. Claim it on the web with "
                    "your token by %(date)s: %(status_url)s"
                ),
                amount=amount,
                date=texts.date(lang, reward.claim_deadline),
                status_url=self.links.status_url,
            )
        elif state is ReporterRewardState.CLAIMED:
            self.say(N_("You claimed your reward of %(amount)s yuan."), amount=amount)
        elif state is ReporterRewardState.PAID and reward.paid_on is not None:
            self.say(
                N_("Your reward of %(amount)s yuan was paid on %(date)s."),
                amount=amount,
                date=texts.date(lang, reward.paid_on),
            )
        elif state is ReporterRewardState.EXPIRED:
            self.say(N_("The reward offer has expired."))
        elif state is ReporterRewardState.DECLINED:
            self.say(N_("You declined the reward."))

    def subscribe(self, content: str) -> None:
        access = self._unlock(content)
        if access is None:
            if self.draft.step != SUBSCRIBE_STEP:
                self.draft.step = SUBSCRIBE_STEP
            return
        self.draft.step = IDLE_STEP
        tip = self.session.get(Tip, access.tip_id)
        if tip is None:  # unlocked a moment ago; only a concurrent deletion gets here
            self.say(intake_errors.UnknownToken.message)
            return
        link = notifications.request(
            self.session,
            self.clock,
            self.settings,
            self.pepper,
            tip,
            openid=self.message.sender,
            lang=self.draft.lang,
            consent_url=self.links.consent_url,
        )
        if link is None:
            self.say(N_("This report is closed; there will be no further changes to notify."))
            return
        self.say(
            N_(
                "Open this link within %(minutes)s minutes to allow one notification when the "
                "state of your report changes:\n%(link)s\n\nUntil it is sent or the report "
                "closes, your WeChat identity is kept, encrypted, with the report. Send 退订 "
                "(unsubscribe) to withdraw."
            ),
            minutes=int(notifications.CONSENT_WINDOW.total_seconds() // 60),
            link=link,
        )
