"""Intake services: store a tip encrypted, give the reporter a tracking token, open a tip with
the token or a group key, stream its attachments back (DESIGN.md "Security model").

The other nouns of intake have their own modules, re-exported at the end of this one:

* :mod:`~intake.services.receiving` — a tip from a channel: files checked and scrubbed, the key
  groups found, then stored (what the public site and the API call);
* :mod:`~intake.services.sessions` — reporter sessions after the token was checked once;
* :mod:`~intake.services.reporter` — what the reporter sees of their tip.

Every service takes the session, clock and settings as arguments, adds and flushes, and never
commits: the request, CLI command or job commits once, so a tip, its sealed keys, its token row,
every attachment chunk and the audit record commit or roll back together.

The tip's data key exists only in memory, inside one call (or, for an attachment download, for
as long as the returned iterator runs). It is stored only sealed to key groups and wrapped under
the reporter's token.

Authorisation is the caller's job: :func:`open_with_group_key` and :func:`iter_attachment` open
whatever the given group key opens. Triage checks the officer's role and division scope and
writes the ``tip.read`` audit record before calling them; here there is no actor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import LargeBinary, Table, bindparam, exists, func, insert, select
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from core.audit import services as audit
from core.audit.models import AuditRecord
from core.clock import Clock, HourClock, hour_of
from core.keys.types import Recipient
from core.settings import Settings
from crypto import envelope, tokens
from crypto.errors import CryptoError, DecryptionFailed, InvalidToken
from crypto.stream import StreamDecryptor, StreamEncryptor
from intake import errors
from intake.access import ReporterAccess, present_reporter_proof, reporter_proof_sha256
from intake.models import (
    CHUNK_TAG_LEN,
    Attachment,
    AttachmentChunk,
    Channel,
    Relationship,
    Tip,
    TipCategory,
    TipKey,
    TipState,
    TipToken,
    TokenParamSet,
)
from registry.models import Division

# ---------------------------------------------------------------- limits (DESIGN / issue 4)

MIB = 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_MB = 20
MAX_ATTACHMENTS_MB = 100
DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 10_000
SHORT_TEXT_MAX = 1_000  # location, facility name, when observed, contact, real name
FILE_NAME_MAX = 255
CONTENT_TYPE_MAX = 255

#: ``wrap`` purpose of the reporter's copy of the data key (context: the tip id).
REPORTER_KEY_PURPOSE = "data-key/reporter"
#: The tip's encrypted fields, in manifest order; column ``<name>_enc``, FIELD binding
#: ``kind="tip"``, ``object_id`` = tip id, ``field_name`` = name.
TIP_FIELDS = (
    "description",
    "location",
    "facility_name",
    "observed_when",
    "relationship",
    "contact",
    "real_name",
)
ATTACHMENT_KIND = "attachment"
TIP_KIND = "tip"
RECEIVED = "tip.received"
TOKEN_REPLACED = "tip.token_replaced"  # noqa: S105 - an audit action, not a secret


# ---------------------------------------------------------------- the statements of a submission
# Written with Core, built once: a submission is the public site's hot path (see submit_tip).

_TIPS = cast(Table, Tip.__table__)
_TIP_KEYS = cast(Table, TipKey.__table__)
_TIP_TOKENS = cast(Table, TipToken.__table__)
_ATTACHMENTS = cast(Table, Attachment.__table__)
_CHUNKS = cast(Table, AttachmentChunk.__table__)
_DIVISIONS = cast(Table, Division.__table__)
_PARAM_SETS = cast(Table, TokenParamSet.__table__)

#: Tip columns given as ``v_<column>`` parameters (``division_id`` comes from the division).
_TIP_COLUMNS = (
    "id",
    "state",
    "category",
    "channel",
    "facility_id",
    "submitted_at",
    "reward_right",
    *(f"{name}_enc" for name in TIP_FIELDS),
    "reporter_proof_sha256",
)
#: The tip row, written only if ``:division`` is an active division (row count 0 otherwise).
_INSERT_TIP = (
    insert(_TIPS)
    .from_select(
        [*_TIP_COLUMNS, "division_id"],
        select(
            *(bindparam(f"v_{name}", type_=_TIPS.c[name].type) for name in _TIP_COLUMNS),
            _DIVISIONS.c.id,
        ).where(_DIVISIONS.c.id == bindparam("division"), _DIVISIONS.c.active.is_(True)),
    )
    .execution_options(preserve_rowcount=True)  # SQLAlchemy keeps an INSERT's count on request
)
_NEWER_SETS = _PARAM_SETS.alias("newer")
#: The token row, written only if the parameter set it names is stored exactly as given
#: (version, cost, salt) and is still the newest (row count 0 otherwise).
_INSERT_TOKEN = (
    insert(_TIP_TOKENS)
    .from_select(
        ["tip_id", "params_version", "token_index", "wrapped_key"],
        select(
            bindparam("tip_id", type_=_TIP_TOKENS.c.tip_id.type),
            _PARAM_SETS.c.version,
            bindparam("token_index", type_=LargeBinary()),
            bindparam("wrapped_key", type_=LargeBinary()),
        ).where(
            _PARAM_SETS.c.version == bindparam("version"),
            _PARAM_SETS.c.n == bindparam("n"),
            _PARAM_SETS.c.r == bindparam("r"),
            _PARAM_SETS.c.p == bindparam("p"),
            _PARAM_SETS.c.salt == bindparam("salt", type_=LargeBinary()),
            ~exists().where(_NEWER_SETS.c.version > bindparam("version")),
        ),
    )
    .execution_options(preserve_rowcount=True)
)


# ---------------------------------------------------------------- values in and out


@dataclass(frozen=True)
class TipSubmission:
    """What a reporter submits, as plain values (from the web form, the API or WeChat).

    Routing values (category, division, channel, a registered facility's id) are stored in the
    clear; every text the reporter wrote or chose is encrypted. Empty optional values are
    encrypted too, so the database does not show which were given. ``real_name`` is the name a
    reporter chooses to report under (实名举报); empty means anonymous.
    """

    description: str = field(repr=False)
    category: TipCategory
    division_id: int
    location: str = field(default="", repr=False)
    facility_id: int | None = None
    facility_name: str = field(default="", repr=False)
    observed_when: str = field(default="", repr=False)
    relationship: Relationship | None = field(default=None, repr=False)
    contact: str = field(default="", repr=False)
    real_name: str = field(default="", repr=False)
    channel: Channel = Channel.WEB


@dataclass(frozen=True)
class AttachmentInput:
    """One uploaded file: read piece by piece from ``stream`` (any piece sizes), never whole.

    ``scrubbed`` says that identifying metadata was removed before it got here (intake.media).
    """

    name: str = field(repr=False)
    content_type: str = field(repr=False)
    stream: Iterable[bytes] = field(repr=False)
    scrubbed: bool = False


@dataclass(frozen=True)
class Receipt:
    """What the reporter gets back. Show ``token.display`` once, in the response itself."""

    tip_id: uuid.UUID
    token: tokens.TrackingToken


@dataclass(frozen=True)
class TipContent:
    """The decrypted words of a tip. Never logged: ``repr`` shows none of it."""

    description: str = field(repr=False)
    location: str = field(repr=False)
    facility_name: str = field(repr=False)
    observed_when: str = field(repr=False)
    relationship: Relationship | None = field(repr=False)
    contact: str = field(repr=False)
    real_name: str = field(repr=False)


@dataclass(frozen=True)
class AttachmentInfo:
    id: uuid.UUID
    position: int
    name: str = field(repr=False)
    content_type: str = field(repr=False)
    scrubbed: bool
    size: int  # bytes, from the chunk rows (visible in the database anyway)


@dataclass(frozen=True)
class OpenedTip:
    id: uuid.UUID
    state: TipState
    division_id: int
    category: TipCategory
    channel: Channel
    facility_id: int | None
    submitted_at: dt.datetime  # rounded down to the hour
    content: TipContent
    attachments: tuple[AttachmentInfo, ...]


@dataclass(frozen=True)
class ReporterTip(OpenedTip):
    """The tip as its reporter opens it with the tracking token."""


@dataclass(frozen=True)
class OfficerTip(OpenedTip):
    """The tip as opened with a key group's private key."""

    group_id: int
    group_version: int


# ---------------------------------------------------------------- time


# ---------------------------------------------------------------- token parameters


def _to_params(row: TokenParamSet) -> tokens.TokenParams:
    return tokens.TokenParams(version=row.version, n=row.n, r=row.r, p=row.p, salt=row.salt)


def token_param_sets(session: Session) -> list[tokens.TokenParams]:
    """Every stored parameter set, newest first (normally exactly one)."""
    rows = session.scalars(select(TokenParamSet).order_by(TokenParamSet.version.desc()))
    return [_to_params(row) for row in rows]


def current_token_params(session: Session) -> tokens.TokenParams:
    """The parameter set new tokens are derived with; :class:`IntakeNotReady` before init."""
    sets = token_param_sets(session)
    if not sets:
        raise errors.IntakeNotReady()
    return sets[0]


# The newest parameter set per database, remembered by each process so that a submission does
# not read it again (it is fixed at init). A stale entry (a set added later, or a database
# restored or rebuilt under the same engine, as the tests do) costs nothing in safety: the
# token row of a new tip is inserted only if the set it names is still stored exactly as the
# token was derived with and is still the newest (:func:`_insert_token_row`); otherwise the
# entry is dropped, the set read again and the token derived once more.
_newest_params: weakref.WeakKeyDictionary[Engine, tokens.TokenParams] = weakref.WeakKeyDictionary()
_newest_params_lock = threading.Lock()


def _engine_of(session: Session) -> Engine:
    return session.get_bind().engine


def _remembered_params(session: Session) -> tokens.TokenParams:
    """:func:`current_token_params`, read once per process and database."""
    engine = _engine_of(session)
    params = _newest_params.get(engine)
    if params is None:
        params = current_token_params(session)
        with _newest_params_lock:
            _newest_params[engine] = params
    return params


def _forget_params(session: Session) -> None:
    with _newest_params_lock:
        _newest_params.pop(_engine_of(session), None)


def initialise_token_params(
    session: Session,
    clock: Clock,
    *,
    calibrate: bool = True,
    params: tokens.TokenParams | None = None,
) -> tokens.TokenParams:
    """Create the instance's token-derivation parameters once; later calls return them.

    ``calibrate`` picks scrypt's cost so one derivation takes about 50 ms on this machine
    (``qingling init``); ``calibrate=False`` gives the deliberately cheap test parameters;
    ``params`` fixes them explicitly (benchmarks that compare runs at one cost).
    The parameters are never changed afterwards: changing them (or the pepper) would lock every
    reporter out.
    """
    existing = token_param_sets(session)
    if existing:
        return existing[0]
    if params is None:
        params = tokens.calibrate_token_params(0.05) if calibrate else tokens.cheap_token_params()
    session.add(
        TokenParamSet(
            version=params.version,
            n=params.n,
            r=params.r,
            p=params.p,
            salt=params.salt,
            created_at=clock.now(),
        )
    )
    audit.record(
        session,
        clock,
        audit.SYSTEM_ACTOR,
        "token_params.created",
        "token_params",
        params.version,
        {"n": params.n, "r": params.r, "p": params.p},
    )
    return params


def _pepper(settings: Settings) -> bytes:
    if not settings.token_pepper:
        raise errors.IntakeNotReady()
    return settings.token_pepper


def _parse_token(token_text: str) -> tokens.TrackingToken:
    """Parse typed input; a typo is reported here, before any key derivation."""
    try:
        return tokens.parse_token(token_text)
    except InvalidToken as exc:
        raise errors.TokenTypo(exc.reason, exc.position) from None


@dataclass(frozen=True)
class _TokenRow:
    index: bytes
    wrapped_key: bytes


def _token_row(
    token: tokens.TrackingToken,
    data_key: bytes,
    tip_id: uuid.UUID,
    pepper: bytes,
    params: tokens.TokenParams,
) -> _TokenRow:
    secret = tokens.derive_token_secret(token, pepper=pepper, params=params)
    wrapped = envelope.wrap(
        tokens.token_wrapping_key(secret, tip_id),
        data_key,
        purpose=REPORTER_KEY_PURPOSE,
        context=(tip_id,),
    )
    return _TokenRow(tokens.token_index(secret), wrapped)


# A WRAPPED envelope of the right shape that no derived key opens: the miss path of
# _unlock_with_token tries it, so a miss does the same work as a hit (HKDF and one AES-GCM).
_DECOY = envelope.wrap(envelope.new_data_key(), bytes(32), purpose=REPORTER_KEY_PURPOSE)
_DECOY_TIP = uuid.UUID(int=0)


def _unlock_with_token(
    session: Session, settings: Settings, token_text: str
) -> tuple[uuid.UUID, bytes]:
    """The tip id and data key for a typed token, or :class:`UnknownToken`.

    The row is found by equality on the 256-bit token index, which is pseudo-random and cannot
    be computed without the pepper, so the lookup's timing says nothing useful; the found index
    is compared again with ``constant_time_equal``. A miss then does the same work a hit does.
    The only expensive step, the derivation, runs once per stored parameter set whether or not
    the token exists.
    """
    token = _parse_token(token_text)
    pepper = _pepper(settings)
    param_sets = token_param_sets(session)
    if not param_sets:
        raise errors.IntakeNotReady()
    secret = b""
    for params in param_sets:
        secret = tokens.derive_token_secret(token, pepper=pepper, params=params)
        index = tokens.token_index(secret)
        row = session.execute(
            select(TipToken.tip_id, TipToken.token_index, TipToken.wrapped_key).where(
                TipToken.token_index == index, TipToken.params_version == params.version
            )
        ).first()
        if row is not None and tokens.constant_time_equal(row.token_index, index):
            key = tokens.token_wrapping_key(secret, row.tip_id)
            try:
                data_key = envelope.unwrap(
                    key, row.wrapped_key, purpose=REPORTER_KEY_PURPOSE, context=(row.tip_id,)
                )
            except CryptoError:
                raise errors.TipDamaged() from None
            return row.tip_id, data_key
    with contextlib.suppress(CryptoError):
        envelope.unwrap(
            tokens.token_wrapping_key(secret, _DECOY_TIP),
            _DECOY,
            purpose=REPORTER_KEY_PURPOSE,
            context=(_DECOY_TIP,),
        )
    raise errors.UnknownToken()


# ---------------------------------------------------------------- the envelope manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _ChunkHash:
    """SHA-256 over an attachment's STREAM header and its chunks, each length-prefixed."""

    def __init__(self, stream_header: bytes) -> None:
        self._hash = hashlib.sha256()
        self._hash.update(len(stream_header).to_bytes(8, "big"))
        self._hash.update(stream_header)
        self.count = 0  # chunks added so far, which is also the next chunk's index

    def add(self, chunk: bytes) -> None:
        self._hash.update(len(chunk).to_bytes(8, "big"))
        self._hash.update(chunk)
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _Manifest:
    """The ordered list of a tip's stored envelopes (by SHA-256) that goes into the audit chain.

    Items, in this order (see docs/crypto.md "Envelope hashes in the audit chain"):
    ``["tip", field, sha256]`` for each of :data:`TIP_FIELDS`; ``["data_key", group id, group
    version, sha256]`` by group id and version; per attachment by position ``["attachment", id,
    position, scrubbed, sha256(name), sha256(type), chunk count, sha256(header ‖ chunks)]``.
    The digest is SHA-256 of the compact JSON of the list. The reporter's wrapped key is hashed
    apart (``reporter_key_sha256``) because replacing the token rewrites it.
    """

    def __init__(self) -> None:
        self.items: list[list[Any]] = []

    def tip_field(self, name: str, blob: bytes) -> None:
        self.items.append(["tip", name, _sha256(blob)])

    def data_key(self, group_id: int, group_version: int, blob: bytes) -> None:
        self.items.append(["data_key", group_id, group_version, _sha256(blob)])

    def attachment(
        self,
        attachment_id: uuid.UUID,
        position: int,
        *,
        scrubbed: bool,
        name_enc: bytes,
        content_type_enc: bytes,
        chunks: _ChunkHash,
    ) -> None:
        self.items.append(
            [
                "attachment",
                str(attachment_id),
                position,
                scrubbed,
                _sha256(name_enc),
                _sha256(content_type_enc),
                chunks.count,
                chunks.hexdigest(),
            ]
        )

    def digest(self) -> str:
        text = json.dumps(self.items, separators=(",", ":"), ensure_ascii=True)
        return _sha256(text.encode("ascii"))

    def envelope_count(self) -> int:
        """Stored envelopes covered: fields, data keys, and per attachment name, type, header
        and every chunk."""
        count = 0
        for item in self.items:
            count += 3 + item[6] if item[0] == "attachment" else 1
        return count


def _stored_manifest(session: Session, tip: Tip) -> _Manifest:
    """The manifest recomputed from the rows as they are now (chunks read one at a time)."""
    manifest = _Manifest()
    for name in TIP_FIELDS:
        manifest.tip_field(name, getattr(tip, f"{name}_enc"))
    for key_row in session.execute(
        select(TipKey.group_id, TipKey.group_version, TipKey.envelope)
        .where(TipKey.tip_id == tip.id)
        .order_by(TipKey.group_id, TipKey.group_version)
    ):
        manifest.data_key(key_row.group_id, key_row.group_version, key_row.envelope)
    attachments = session.execute(
        select(
            Attachment.id,
            Attachment.position,
            Attachment.scrubbed,
            Attachment.name_enc,
            Attachment.content_type_enc,
            Attachment.stream_header,
        )
        .where(Attachment.tip_id == tip.id)
        .order_by(Attachment.position)
    ).all()
    for att in attachments:
        chunks = _ChunkHash(att.stream_header)
        for data in _chunk_data(session, att.id):
            chunks.add(data)
        manifest.attachment(
            att.id,
            att.position,
            scrubbed=att.scrubbed,
            name_enc=att.name_enc,
            content_type_enc=att.content_type_enc,
            chunks=chunks,
        )
    return manifest


def _chunk_data(session: Session, attachment_id: uuid.UUID) -> Iterator[bytes]:
    """Every chunk of an attachment in index order, one query (and one chunk in memory) each."""
    index = 0
    while True:
        data = session.scalar(
            select(AttachmentChunk.data).where(
                AttachmentChunk.attachment_id == attachment_id,
                AttachmentChunk.chunk_index == index,
            )
        )
        if data is None:
            return
        yield data
        index += 1


def verify_tip_envelopes(session: Session, tip_id: uuid.UUID) -> None:
    """Check the tip's stored envelopes against the hashes recorded in the audit chain.

    Raises :class:`TipDamaged` if any envelope, data-key row, attachment or chunk was changed,
    added or removed since the tip was received, or the reporter's wrapped key differs from the
    one recorded at receipt or at the last token replacement. (Run ``qingling audit verify``
    as well: this trusts the audit rows it reads.)
    """
    tip = session.get(Tip, tip_id)
    if tip is None:
        raise errors.TipNotFound()
    received = _audit_details(session, tip_id, (RECEIVED,))
    latest = _audit_details(session, tip_id, (RECEIVED, TOKEN_REPLACED))
    wrapped = session.scalar(select(TipToken.wrapped_key).where(TipToken.tip_id == tip_id))
    if (
        received is None
        or latest is None
        or wrapped is None
        or received.get("envelopes_sha256") != _stored_manifest(session, tip).digest()
        or latest.get("reporter_key_sha256") != _sha256(wrapped)
    ):
        raise errors.TipDamaged()


def _audit_details(
    session: Session, tip_id: uuid.UUID, actions: tuple[str, ...]
) -> dict[str, Any] | None:
    details = session.scalar(
        select(AuditRecord.details)
        .where(
            AuditRecord.object_type == "tip",
            AuditRecord.object_id == str(tip_id),
            AuditRecord.action.in_(actions),
        )
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    )
    if details is None:
        return None
    value: dict[str, Any] = json.loads(details)
    return value


# ---------------------------------------------------------------- submitting


#: Control characters refused in text (NUL and the other C0 controls but tab, LF and CR; DEL):
#: they are never typed, break some databases (PostgreSQL refuses NUL in text) and hide text.
_CONTROL = frozenset(chr(c) for c in (*range(9), 11, 12, *range(14, 32), 127))


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(name: str, value: str, maximum: int, minimum: int = 0) -> str:
    if not isinstance(value, str):
        raise errors.InvalidSubmission(name, errors.TEXT_TOO_LONG, max=maximum)
    if not _CONTROL.isdisjoint(value):
        raise errors.InvalidSubmission(name, errors.TEXT_CONTROL)
    if "\ufffd" in value or not _encodable(value):
        # U+FFFD is what a decoder leaves of bytes that were not UTF-8; a lone surrogate (from
        # JSON "\ud800") cannot be encoded at all.
        raise errors.InvalidSubmission(name, errors.TEXT_UNREADABLE)
    value = value.strip()
    if len(value) < minimum:
        raise errors.InvalidSubmission(name, errors.DESCRIPTION_TOO_SHORT, min=minimum)
    if len(value) > maximum:
        raise errors.InvalidSubmission(name, errors.TEXT_TOO_LONG, max=maximum)
    return value


def _checked(session: Session, sub: TipSubmission) -> dict[str, str]:
    """Validate the submission; the plaintext of every encrypted field, by field name."""
    try:
        TipCategory(sub.category)
    except ValueError:
        raise errors.InvalidSubmission("category", errors.CHOOSE_CATEGORY) from None
    try:
        Channel(sub.channel)
    except ValueError:
        raise errors.InvalidSubmission("channel", errors.CHOOSE_CHANNEL) from None
    relationship = ""
    if sub.relationship is not None:
        try:
            relationship = Relationship(sub.relationship).value
        except ValueError:
            raise errors.InvalidSubmission("relationship", errors.CHOOSE_RELATIONSHIP) from None
    if not isinstance(sub.division_id, int) or isinstance(sub.division_id, bool):
        raise errors.UnknownDivision()  # whether it exists and is active: see _insert_tip
    if sub.facility_id is not None and (
        not isinstance(sub.facility_id, int)
        or isinstance(sub.facility_id, bool)
        or sub.facility_id < 1
    ):
        raise errors.InvalidSubmission("facility_id", errors.FACILITY_ID_INVALID)
    facility_name = _text("facility_name", sub.facility_name, SHORT_TEXT_MAX)
    if sub.facility_id is not None and facility_name:
        raise errors.InvalidSubmission("facility_name", errors.FACILITY_ONE_OF)
    return {
        "description": _text("description", sub.description, DESCRIPTION_MAX, DESCRIPTION_MIN),
        "location": _text("location", sub.location, SHORT_TEXT_MAX),
        "facility_name": facility_name,
        "observed_when": _text("observed_when", sub.observed_when, SHORT_TEXT_MAX),
        "relationship": relationship,
        "contact": _text("contact", sub.contact, SHORT_TEXT_MAX),
        "real_name": _text("real_name", sub.real_name, SHORT_TEXT_MAX),
    }


def _checked_recipients(recipients: Sequence[Recipient]) -> list[Recipient]:
    if not recipients:
        raise errors.NoRecipients()
    ordered = sorted(recipients, key=lambda r: (r.group_id, r.version))
    if len({(r.group_id, r.version) for r in ordered}) != len(ordered):
        raise ValueError("the same key group version is given twice")
    return ordered


# The collaborators, then the two inputs (the signature the sites and the API call).
def submit_tip(  # noqa: PLR0917
    session: Session,
    clock: Clock,
    settings: Settings,
    recipients: Sequence[Recipient],
    submission: TipSubmission,
    attachments: Iterable[AttachmentInput] = (),
) -> Receipt:
    """Store a new tip encrypted and return its id and the reporter's tracking token.

    ``recipients`` are the key groups that may read it (``core.keys.services.tip_recipients``:
    the division's triage group, the city triage group, the recovery group), already checked
    against their signed key records. Each attachment is read piece by piece and stored as
    encrypted chunk rows as it is read. Nothing is committed here; an error anywhere (a limit
    exceeded in the third file, say) leaves the caller to roll everything back.

    The rows are written with Core INSERTs (the tip, its sealed keys in one statement, the token
    row), not ORM objects: this is the public site's hot path, and the session keeps no copy of
    the tip (load it with ``session.get`` when needed). The tip row carries the SHA-256 of its
    reporter proof (``intake.access.reporter_proof_sha256``), which the database checks the
    reporter's later steps against.
    """
    plaintext = _checked(session, submission)
    ordered = _checked_recipients(recipients)
    pepper = _pepper(settings)
    params = _remembered_params(session)
    # The caller's pending rows (a division, say) go first: the INSERTs below are Core
    # statements, which do not flush the session as ORM queries do. Free when there are none.
    session.flush()

    tip_id = uuid.uuid4()  # random, never time-ordered (Tip._check_id)
    data_key = envelope.new_data_key()
    manifest = _Manifest()
    tip_row: dict[str, Any] = {
        "id": tip_id,
        "state": TipState.SUBMITTED,
        "category": TipCategory(submission.category),
        "channel": Channel(submission.channel),
        "facility_id": submission.facility_id,
        "submitted_at": hour_of(clock.now()),  # rounded down (Tip._check_submitted_at)
        "reward_right": False,
        # What the database checks a reporter step against (intake.access, migration 0008).
        "reporter_proof_sha256": reporter_proof_sha256(tip_id, data_key),
    }
    for name in TIP_FIELDS:
        blob = envelope.encrypt_text(
            data_key,
            plaintext[name],
            tip_id=tip_id,
            kind=TIP_KIND,
            object_id=tip_id,
            field_name=name,
        )
        tip_row[f"{name}_enc"] = blob
        manifest.tip_field(name, blob)
    key_rows = []
    for recipient in ordered:
        sealed = envelope.seal_data_key(
            recipient.public_key,
            data_key,
            tip_id=tip_id,
            group_id=recipient.group_id,
            group_version=recipient.version,
        )
        key_rows.append(
            {
                "tip_id": tip_id,
                "group_id": recipient.group_id,
                "group_version": recipient.version,
                "envelope": sealed,
            }
        )
        manifest.data_key(recipient.group_id, recipient.version, sealed)
    _insert_tip(session, submission.division_id, tip_row)
    session.execute(insert(_TIP_KEYS), key_rows)  # one round trip for the three rows
    token, row = _store_token(session, data_key, tip_id, pepper, params)
    count = _store_attachments(session, data_key, tip_id, attachments, manifest)
    audit.record(
        session,
        HourClock(clock),
        audit.REPORTER_ACTOR,
        RECEIVED,
        "tip",
        str(tip_id),
        {
            "envelopes_sha256": manifest.digest(),
            "envelope_count": manifest.envelope_count(),
            "reporter_key_sha256": _sha256(row.wrapped_key),
            "recipients": [[r.group_id, r.version] for r in ordered],
            "attachments": count,
        },
    )
    return Receipt(tip_id, token)


def _store_token(
    session: Session,
    data_key: bytes,
    tip_id: uuid.UUID,
    pepper: bytes,
    params: tokens.TokenParams,
) -> tuple[tokens.TrackingToken, _TokenRow]:
    """A new token for the tip and its stored row, derived with the remembered parameter set;
    if that set turns out stale, once more with the set read afresh."""
    token = tokens.generate_token()
    row = _token_row(token, data_key, tip_id, pepper, params)
    if _insert_token_row(session, tip_id, params, row):
        return token, row
    _forget_params(session)
    params = _remembered_params(session)  # IntakeNotReady if the sets are gone
    token = tokens.generate_token()
    row = _token_row(token, data_key, tip_id, pepper, params)
    if not _insert_token_row(session, tip_id, params, row):
        # The set changed again between a read and an insert: not a state to retry in.
        _forget_params(session)
        raise errors.IntakeNotReady()
    return token, row


def _insert_tip(session: Session, division_id: int, values: dict[str, Any]) -> None:
    """Insert the tip row, or raise :class:`UnknownDivision` (and insert nothing) unless
    ``division_id`` is an active division: the check and the write are one statement."""
    params = {f"v_{name}": value for name, value in values.items()}
    result = session.execute(_INSERT_TIP, {**params, "division": division_id})
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise errors.UnknownDivision()


def _insert_token_row(
    session: Session, tip_id: uuid.UUID, params: tokens.TokenParams, row: _TokenRow
) -> bool:
    """Insert the token row if ``params`` is stored exactly as given (version, cost and salt)
    and no newer set exists; whether it was. One statement (:data:`_INSERT_TOKEN`)."""
    result = session.execute(
        _INSERT_TOKEN,
        {
            "tip_id": tip_id,
            "token_index": row.index,
            "wrapped_key": row.wrapped_key,
            "version": params.version,
            "n": params.n,
            "r": params.r,
            "p": params.p,
            "salt": params.salt,
        },
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def _store_attachments(
    session: Session,
    data_key: bytes,
    tip_id: uuid.UUID,
    attachments: Iterable[AttachmentInput],
    manifest: _Manifest,
) -> int:
    """Store every attachment; the number stored."""
    total = 0
    count = 0
    for position, item in enumerate(attachments):
        if position >= MAX_ATTACHMENTS:
            raise errors.TooManyAttachments(MAX_ATTACHMENTS)
        total = _store_attachment(session, data_key, tip_id, position, item, manifest, total)
        count = position + 1
    return count


def _store_attachment(  # noqa: PLR0917 - private helper of submit_tip
    session: Session,
    data_key: bytes,
    tip_id: uuid.UUID,
    position: int,
    item: AttachmentInput,
    manifest: _Manifest,
    total: int,
) -> int:
    attachment_id = uuid.uuid4()  # random (Attachment._check_id)
    name = _text("attachments", item.name, FILE_NAME_MAX)
    content_type = _text("attachments", item.content_type, CONTENT_TYPE_MAX)
    name_enc, type_enc = (
        envelope.encrypt_text(
            data_key,
            value,
            tip_id=tip_id,
            kind=ATTACHMENT_KIND,
            object_id=attachment_id,
            field_name=field_name,
        )
        for field_name, value in (("name", name), ("content_type", content_type))
    )
    encryptor = StreamEncryptor(data_key, tip_id=tip_id, attachment_id=attachment_id)
    session.execute(
        insert(_ATTACHMENTS),
        {
            "id": attachment_id,
            "tip_id": tip_id,
            "position": position,
            "name_enc": name_enc,
            "content_type_enc": type_enc,
            "stream_header": encryptor.header,
            "scrubbed": bool(item.scrubbed),
        },
    )
    chunks = _ChunkHash(encryptor.header)
    size = 0
    for piece in item.stream:
        size += len(piece)
        total += len(piece)
        if size > MAX_ATTACHMENT_MB * MIB:
            raise errors.AttachmentTooLarge(MAX_ATTACHMENT_MB)
        if total > MAX_ATTACHMENTS_MB * MIB:
            raise errors.AttachmentsTooLarge(MAX_ATTACHMENTS_MB)
        for sealed in encryptor.write(piece):
            _insert_chunk(session, attachment_id, chunks, sealed, final=False)
    _insert_chunk(session, attachment_id, chunks, encryptor.finish(), final=True)
    manifest.attachment(
        attachment_id,
        position,
        scrubbed=bool(item.scrubbed),
        name_enc=name_enc,
        content_type_enc=type_enc,
        chunks=chunks,
    )
    return total


def _insert_chunk(
    session: Session, attachment_id: uuid.UUID, chunks: _ChunkHash, sealed: bytes, *, final: bool
) -> None:
    # A Core INSERT, not an ORM object: the session keeps no reference to the chunk, so an
    # upload never accumulates in memory.
    session.execute(
        insert(_CHUNKS),
        {
            "attachment_id": attachment_id,
            "chunk_index": chunks.count,
            "final": final,
            "data": sealed,
        },
    )
    chunks.add(sealed)


# ---------------------------------------------------------------- replacing the token


def replace_token(
    session: Session,
    clock: Clock,
    settings: Settings,
    old_token_text: str,
    *,
    for_tip: uuid.UUID | None = None,
) -> tokens.TrackingToken:
    """Give the tip of ``old_token_text`` a new token; the old one stops working at commit.

    The data key is re-wrapped under the new token's key (with the current parameter set) and
    the row found by the old index is rewritten, so no trace of the old token remains.
    ``for_tip`` (a reporter session's tip) makes a token of any other tip :class:`UnknownToken`.
    The reporter proof is presented before the row is rewritten (on PostgreSQL the public
    site's role needs it); the data key, and so the proof, stay the same.
    """
    tip_id, data_key = _unlock_with_token(session, settings, old_token_text)
    if for_tip is not None and tip_id != for_tip:
        raise errors.UnknownToken()
    params = current_token_params(session)
    token = tokens.generate_token()
    row = _token_row(token, data_key, tip_id, _pepper(settings), params)
    stored = session.get(TipToken, tip_id)
    if stored is None:  # the row was just read; only a concurrent deletion gets here
        raise errors.UnknownToken()
    present_reporter_proof(session, ReporterAccess(tip_id, data_key))
    stored.params_version = params.version
    stored.token_index = row.index
    stored.wrapped_key = row.wrapped_key
    audit.record(
        session,
        HourClock(clock),
        audit.REPORTER_ACTOR,
        TOKEN_REPLACED,
        "tip",
        str(tip_id),
        {"reporter_key_sha256": _sha256(row.wrapped_key)},
    )
    return token


# ---------------------------------------------------------------- opening


def open_with_token(session: Session, settings: Settings, token_text: str) -> ReporterTip:
    """The tip of a tracking token, as its reporter sees it.

    A typo is :class:`TokenTypo` (no derivation ran); a well-formed token that matches no tip
    is :class:`UnknownToken` after the same derivation a match costs.
    """
    tip_id, data_key = _unlock_with_token(session, settings, token_text)
    return ReporterTip(**_opened(session, tip_id, data_key))


def unlock_with_token(session: Session, settings: Settings, token_text: str) -> ReporterAccess:
    """What the reporter holds once the token is checked (for a reporter session): the same
    errors and the same work as :func:`open_with_token`, without decrypting anything."""
    tip_id, data_key = _unlock_with_token(session, settings, token_text)
    return ReporterAccess(tip_id, data_key)


def decoy_token(session: Session, settings: Settings) -> tokens.TrackingToken:
    """A fresh, well-formed token that belongs to no tip, after the derivation a real
    submission costs; nothing is stored. For the honeypot of the web form (see
    ``public_site/views/tips.py``)."""
    token = tokens.generate_token()
    tokens.derive_token_secret(token, pepper=_pepper(settings), params=_remembered_params(session))
    return token


def open_with_access(session: Session, access: ReporterAccess) -> ReporterTip:
    """The tip as its reporter sees it, opened with the data key of a reporter session."""
    return ReporterTip(**_opened(session, access.tip_id, access.data_key))


def _data_key_for_group(
    session: Session,
    tip_id: uuid.UUID,
    group_id: int,
    group_version: int,
    group_private_key: bytes,
) -> bytes:
    if session.get(Tip, tip_id) is None:
        raise errors.TipNotFound()
    sealed = session.scalar(
        select(TipKey.envelope).where(
            TipKey.tip_id == tip_id,
            TipKey.group_id == group_id,
            TipKey.group_version == group_version,
        )
    )
    if sealed is None:
        raise errors.WrongKey()
    try:
        return envelope.open_data_key(
            group_private_key,
            sealed,
            tip_id=tip_id,
            group_id=group_id,
            group_version=group_version,
        )
    except DecryptionFailed:
        raise errors.WrongKey() from None
    except CryptoError:
        raise errors.TipDamaged() from None


def open_with_group_key(
    session: Session,
    tip_id: uuid.UUID,
    group_id: int,
    group_version: int,
    group_private_key: bytes,
) -> OfficerTip:
    """Open a tip with the private key of a group version it was sealed to.

    No authorisation here: the caller (triage) checks the officer's role and scope and writes
    the ``tip.read`` audit record. :class:`WrongKey` if the tip was not sealed to that group
    version or the key does not open it; :class:`TipDamaged` if a field does not open.
    """
    data_key = _data_key_for_group(session, tip_id, group_id, group_version, group_private_key)
    return OfficerTip(
        **_opened(session, tip_id, data_key), group_id=group_id, group_version=group_version
    )


def _opened(session: Session, tip_id: uuid.UUID, data_key: bytes) -> dict[str, Any]:
    tip = session.get(Tip, tip_id)
    if tip is None:
        raise errors.TipNotFound()
    try:
        text = {
            name: envelope.decrypt_text(
                data_key,
                getattr(tip, f"{name}_enc"),
                tip_id=tip_id,
                kind=TIP_KIND,
                object_id=tip_id,
                field_name=name,
            )
            for name in TIP_FIELDS
        }
        relationship = Relationship(text["relationship"]) if text["relationship"] else None
        attachments = tuple(_attachment_infos(session, tip_id, data_key))
    except (CryptoError, ValueError):
        raise errors.TipDamaged() from None
    return {
        "id": tip.id,
        "state": tip.state,
        "division_id": tip.division_id,
        "category": tip.category,
        "channel": tip.channel,
        "facility_id": tip.facility_id,
        "submitted_at": tip.submitted_at,
        "content": TipContent(
            description=text["description"],
            location=text["location"],
            facility_name=text["facility_name"],
            observed_when=text["observed_when"],
            relationship=relationship,
            contact=text["contact"],
            real_name=text["real_name"],
        ),
        "attachments": attachments,
    }


def _attachment_infos(
    session: Session, tip_id: uuid.UUID, data_key: bytes
) -> Iterator[AttachmentInfo]:
    sizes: dict[uuid.UUID, int] = {
        attachment_id: int(size)
        for attachment_id, size in session.execute(
            select(
                AttachmentChunk.attachment_id,
                func.sum(func.length(AttachmentChunk.data))
                - CHUNK_TAG_LEN * func.count(AttachmentChunk.chunk_index),
            )
            .join(Attachment, Attachment.id == AttachmentChunk.attachment_id)
            .where(Attachment.tip_id == tip_id)
            .group_by(AttachmentChunk.attachment_id)
        )
    }
    for att in session.scalars(
        select(Attachment).where(Attachment.tip_id == tip_id).order_by(Attachment.position)
    ):
        name, content_type = (
            envelope.decrypt_text(
                data_key,
                blob,
                tip_id=tip_id,
                kind=ATTACHMENT_KIND,
                object_id=att.id,
                field_name=field_name,
            )
            for field_name, blob in (("name", att.name_enc), ("content_type", att.content_type_enc))
        )
        yield AttachmentInfo(
            id=att.id,
            position=att.position,
            name=name,
            content_type=content_type,
            scrubbed=att.scrubbed,
            size=sizes.get(att.id, 0),
        )


# ---------------------------------------------------------------- attachments


# Positional like open_with_group_key, whose arguments it repeats.
def iter_attachment(  # noqa: PLR0917
    session: Session,
    tip_id: uuid.UUID,
    attachment_id: uuid.UUID,
    group_id: int,
    group_version: int,
    group_private_key: bytes,
) -> Iterator[bytes]:
    """An attachment's plaintext, chunk by chunk, opened with a group key (see
    :func:`open_with_group_key` for what is checked here and what the caller checks).

    The key is opened and the attachment found before this returns, so those errors come
    first; a chunk that does not open raises :class:`AttachmentDamaged` while iterating, after
    the chunks before it were yielded — a caller streaming a response must abort it then.
    """
    data_key = _data_key_for_group(session, tip_id, group_id, group_version, group_private_key)
    return _decrypted_chunks(session, data_key, tip_id, attachment_id)


def iter_attachment_with_token(
    session: Session, settings: Settings, token_text: str, attachment_id: uuid.UUID
) -> Iterator[bytes]:
    """:func:`iter_attachment` for the reporter, with the tracking token."""
    tip_id, data_key = _unlock_with_token(session, settings, token_text)
    return _decrypted_chunks(session, data_key, tip_id, attachment_id)


def iter_attachment_with_access(
    session: Session, access: ReporterAccess, attachment_id: uuid.UUID
) -> Iterator[bytes]:
    """:func:`iter_attachment` for the reporter, with the data key of a reporter session."""
    return _decrypted_chunks(session, access.data_key, access.tip_id, attachment_id)


def _decrypted_chunks(
    session: Session, data_key: bytes, tip_id: uuid.UUID, attachment_id: uuid.UUID
) -> Iterator[bytes]:
    header = session.scalar(
        select(Attachment.stream_header).where(
            Attachment.id == attachment_id, Attachment.tip_id == tip_id
        )
    )
    if header is None:
        raise errors.AttachmentNotFound()
    try:
        decryptor = StreamDecryptor(data_key, header, tip_id=tip_id, attachment_id=attachment_id)
    except CryptoError:
        raise errors.AttachmentDamaged() from None
    return _chunks(session, decryptor, attachment_id)


def _chunks(
    session: Session, decryptor: StreamDecryptor, attachment_id: uuid.UUID
) -> Iterator[bytes]:
    index = 0
    try:
        while True:
            row = session.execute(
                select(AttachmentChunk.final, AttachmentChunk.data).where(
                    AttachmentChunk.attachment_id == attachment_id,
                    AttachmentChunk.chunk_index == index,
                )
            ).first()
            if row is None:  # a gap or a missing final chunk: truncated
                raise errors.AttachmentDamaged()
            yield decryptor.open_chunk(row.data, final=row.final)
            if row.final:
                break
            index += 1
        decryptor.finish()
    except CryptoError:
        raise errors.AttachmentDamaged() from None
    extra = session.scalar(
        select(func.count()).where(
            AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.chunk_index > index
        )
    )
    if extra:  # rows after the final chunk were added
        raise errors.AttachmentDamaged()


# ---------------------------------------------------------------- the other nouns
# Imported last: they build on the names above.

from intake.services.receiving import check_uploads, receive_tip  # noqa: E402
from intake.services.reporter import ReporterOverview, reporter_overview  # noqa: E402
from intake.services.sessions import (  # noqa: E402
    IDLE,
    SESSION_KEY_PURPOSE,
    OpenedSession,
    end_reporter_session,
    open_reporter_session,
    purge_reporter_sessions,
    reporter_access,
    session_value_hash,
)

__all__ = [
    "IDLE",
    "SESSION_KEY_PURPOSE",
    "OpenedSession",
    "ReporterOverview",
    "check_uploads",
    "end_reporter_session",
    "open_reporter_session",
    "purge_reporter_sessions",
    "receive_tip",
    "reporter_access",
    "reporter_overview",
    "session_value_hash",
]
