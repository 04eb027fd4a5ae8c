"""Stored tips: encrypted fields, sealed data keys, the reporter's token row, attachments as
encrypted chunk rows, messages, and the token-derivation parameters (DESIGN.md "Security model").

What is in the clear and why (everything else a reporter wrote or chose is a ``FIELD`` envelope
under the tip's data key, see ``docs/crypto.md`` "Tip storage"):

* ``tips``: id (random UUIDv4), state, division, category, channel, a registered facility's id,
  the submission time rounded down to the hour — routing and deadlines need them; the SHA-256
  of the reporter proof (a one-way function of the data key) — the database checks the proof;
* ``tip_keys``: which key group (id, version) can open the tip;
* ``tip_tokens``: the token index (an HKDF output of the scrypt secret, useless without the
  token) and the parameter-set version;
* ``tip_attachments``: the ``scrubbed`` flag and the order of the files; chunk rows show the
  size to the byte (the final chunk is not padded; see docs).

No table here has a sequential integer id: keys are random UUIDs or composite, so no column
counts tips in submission order. Every encrypted column is NOT NULL: an optional field the
reporter left empty is an encrypted empty string, so the database does not show which optional
fields (contact details, real name) were given.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship, validates

from core.errors import N_
from core.models import Base, str_enum

# Envelope lengths (crypto/envelope.py): a sealed data key, the reporter's wrapped data key
# (header 3 + nonce 12 + key 32 + tag 16), an attachment STREAM header, a token index.
DATA_KEY_ENVELOPE_LEN = 83
WRAPPED_KEY_LEN = 63
STREAM_HEADER_LEN = 36
TOKEN_INDEX_LEN = 32
#: A FIELD envelope is 31 bytes plus a padding bucket of at least 64 bytes.
MIN_FIELD_ENVELOPE_LEN = 95
#: AES-GCM tag: every sealed chunk is at least this long (an empty file is one 16-byte chunk).
CHUNK_TAG_LEN = 16


class TipState(enum.StrEnum):
    """Where a tip is in its workflow. The transition table and one service per transition are
    in :mod:`triage.workflow` and :mod:`triage.services`; the CHECK constraints on
    :class:`Tip` tie each state to the columns it needs."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"  # with a reason from NotAcceptedReason and a text
    TRANSFERRED = "transferred"  # to another regulator, with a note to the reporter
    VERIFYING = "verifying"  # verification deadline running
    SUBSTANTIATED = "substantiated"
    PARTLY_SUBSTANTIATED = "partly_substantiated"
    UNSUBSTANTIATED = "unsubstantiated"
    RECHECKING = "rechecking"  # the reporter objected; re-check deadline running
    RECHECKED = "rechecked"  # the re-check's conclusion is given
    DUPLICATE = "duplicate"  # linked to an earlier tip on the same matter
    CLOSED = "closed"


#: The three conclusions of a verification (and of a re-check).
CONCLUDED_STATES = (
    TipState.SUBSTANTIATED,
    TipState.PARTLY_SUBSTANTIATED,
    TipState.UNSUBSTANTIATED,
)


class NotAcceptedReason(enum.StrEnum):
    """Why a tip is not accepted (the list of the reporting rules)."""

    OUTSIDE_REMIT = "outside_remit"  # 不属于本部门职责
    NO_CLEAR_TARGET_OR_FACTS = "no_clear_target_or_facts"  # 无明确对象或事实
    ALREADY_ACCEPTED = "already_accepted"  # 同一事项已受理
    OTHER_PROCEDURE = "other_procedure"  # 应通过其他法定途径解决


class TipCategory(enum.StrEnum):
    ELDERLY_CARE_SAFETY = "elderly_care_safety"  # 养老服务安全
    FIRE = "fire"  # 消防
    BUILDINGS = "buildings"  # 房屋建筑
    GAS = "gas"  # 燃气
    SPECIAL_EQUIPMENT = "special_equipment"  # 特种设备
    OTHER = "other"


#: What every page, export and chat calls a category (English msgids, translated where shown).
CATEGORY_LABELS: Mapping[TipCategory, str] = {
    TipCategory.ELDERLY_CARE_SAFETY: N_("Elderly-care service safety"),
    TipCategory.FIRE: N_("Fire safety"),
    TipCategory.BUILDINGS: N_("Buildings and construction"),
    TipCategory.GAS: N_("Gas"),
    TipCategory.SPECIAL_EQUIPMENT: N_("Special equipment (lifts, boilers, pressure vessels)"),
    TipCategory.OTHER: N_("Other"),
}


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"
    WECHAT = "wechat"


class Relationship(enum.StrEnum):
    """How the reporter knows about the hazard. Stored encrypted (it narrows who they are)."""

    EMPLOYEE = "employee"
    RESIDENT = "resident"
    FAMILY = "family"
    NEIGHBOUR = "neighbour"
    OTHER = "other"


class MessageAuthor(enum.StrEnum):
    REPORTER = "reporter"
    OFFICER = "officer"


def _on_the_hour(value: dt.datetime) -> dt.datetime:
    """Refuse a time that is not rounded down to the hour (exact times identify reporters)."""
    if value.tzinfo is None or value.minute or value.second or value.microsecond:
        raise ValueError("stored reporter times are UTC and rounded down to the hour")
    return value


class TokenParamSet(Base):
    """The tracking-token KDF parameters (``crypto.tokens.TokenParams``), fixed at init.

    A set is never updated (an ORM update raises, see below); a deliberate change would add a
    new version, and tokens keep the version they were derived with (``tip_tokens``).
    """

    __tablename__ = "token_param_sets"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("n >= 2 AND r >= 1 AND p >= 1", name="cost_positive"),
        CheckConstraint("length(salt) >= 16", name="salt_length"),
    )

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)
    r: Mapped[int] = mapped_column(Integer)
    p: Mapped[int] = mapped_column(Integer)
    salt: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[dt.datetime]


@event.listens_for(TokenParamSet, "before_update")
def _token_params_are_fixed(
    _mapper: Mapper[TokenParamSet], _conn: Connection, _target: object
) -> None:
    raise RuntimeError("token parameters are fixed at init and never changed in place")


class Tip(Base):
    """One report. Routing values in the clear; the reporter's words in FIELD envelopes.

    Each ``*_enc`` column is ``crypto.envelope.encrypt_text(data_key, text, tip_id=id,
    kind="tip", object_id=id, field_name=<column name without _enc>)``.
    """

    __tablename__ = "tips"
    __table_args__ = (
        CheckConstraint("facility_id IS NULL OR facility_id > 0", name="facility_id_positive"),
        # ---- the workflow's invariants (triage): each state has the columns it needs.
        CheckConstraint(
            "state NOT IN ('accepted', 'verifying') OR accepted_at IS NOT NULL",
            name="accepted_has_time",
        ),
        CheckConstraint(
            "state <> 'not_accepted' OR (not_accepted_reason IS NOT NULL "
            "AND decided_at IS NOT NULL AND decision_enc IS NOT NULL)",
            name="not_accepted_has_reason",
        ),
        CheckConstraint(
            "state <> 'transferred' OR (transferred_to IS NOT NULL "
            "AND decided_at IS NOT NULL AND decision_enc IS NOT NULL)",
            name="transferred_has_regulator",
        ),
        CheckConstraint(
            "(not_accepted_reason IS NULL) OR (transferred_to IS NULL)",
            name="refused_or_transferred",
        ),
        CheckConstraint(
            "state NOT IN ('verifying', 'substantiated', 'partly_substantiated', "
            "'unsubstantiated', 'rechecking', 'rechecked') OR (accepted_at IS NOT NULL "
            "AND verification_started_at IS NOT NULL AND verification_due_at IS NOT NULL)",
            name="verification_has_deadline",
        ),
        CheckConstraint(
            "state NOT IN ('substantiated', 'partly_substantiated', 'unsubstantiated', "
            "'rechecking', 'rechecked') OR (concluded_at IS NOT NULL "
            "AND conclusion_enc IS NOT NULL AND objection_due_at IS NOT NULL)",
            name="concluded_has_conclusion",
        ),
        CheckConstraint(
            "state NOT IN ('rechecking', 'rechecked') OR (objected_at IS NOT NULL "
            "AND objection_enc IS NOT NULL AND recheck_due_at IS NOT NULL)",
            name="recheck_has_objection",
        ),
        CheckConstraint(
            "state <> 'rechecked' OR (recheck_outcome IS NOT NULL "
            "AND recheck_concluded_at IS NOT NULL AND recheck_conclusion_enc IS NOT NULL)",
            name="rechecked_has_conclusion",
        ),
        CheckConstraint(
            "(state = 'verifying' AND due_at IS NOT NULL AND due_at = verification_due_at) "
            "OR (state = 'rechecking' AND due_at IS NOT NULL AND due_at = recheck_due_at) "
            "OR (state NOT IN ('verifying', 'rechecking') AND due_at IS NULL)",
            name="due_follows_state",
        ),
        CheckConstraint("overdue_since IS NULL OR due_at IS NOT NULL", name="overdue_has_due"),
        CheckConstraint(
            "state <> 'duplicate' OR duplicate_of_id IS NOT NULL", name="duplicate_has_original"
        ),
        CheckConstraint(
            "duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_duplicate_of_itself"
        ),
        CheckConstraint("state <> 'closed' OR closed_at IS NOT NULL", name="closed_has_time"),
        CheckConstraint(
            "(extension_days IS NULL) = (extension_reason_enc IS NULL)",
            name="extension_has_reason",
        ),
        CheckConstraint("extension_days IS NULL OR extension_days >= 1", name="extension_positive"),
        CheckConstraint(
            "reporter_proof_sha256 IS NULL OR length(reporter_proof_sha256) = 32",
            name="reporter_proof_length",
        ),
        CheckConstraint(
            "NOT reward_right OR accepted_at IS NOT NULL", name="reward_right_accepted"
        ),
        CheckConstraint(
            "(conclusion IS NULL) = (concluded_at IS NULL)", name="conclusion_has_time"
        ),
        CheckConstraint(
            "conclusion IS NULL OR conclusion IN "
            "('substantiated', 'partly_substantiated', 'unsubstantiated')",
            name="conclusion_is_an_outcome",
        ),
        CheckConstraint(
            "recheck_outcome IS NULL OR recheck_outcome IN "
            "('substantiated', 'partly_substantiated', 'unsubstantiated')",
            name="recheck_outcome_is_an_outcome",
        ),
        *(
            CheckConstraint(f"length({col}) >= {MIN_FIELD_ENVELOPE_LEN}", name=f"{col}_length")
            for col in (
                "description_enc",
                "location_enc",
                "facility_name_enc",
                "observed_when_enc",
                "relationship_enc",
                "contact_enc",
                "real_name_enc",
            )
        ),
        *(
            CheckConstraint(
                f"{col} IS NULL OR length({col}) >= {MIN_FIELD_ENVELOPE_LEN}",
                name=f"{col}_length",
            )
            for col in (
                "decision_enc",
                "extension_reason_enc",
                "conclusion_enc",
                "objection_enc",
                "recheck_conclusion_enc",
            )
        ),
        # The triage queue's keyset pages (triage.services.queue): one index per sort order,
        # with and without the division and the state in front, so that a city officer's and a
        # division officer's first, filtered and deep pages are index range scans.
        Index("ix_tips_queue_submitted", "submitted_at", "id"),
        Index("ix_tips_queue_division_submitted", "division_id", "submitted_at", "id"),
        Index("ix_tips_queue_state_submitted", "state", "submitted_at", "id"),
        Index(
            "ix_tips_queue_division_state_submitted", "division_id", "state", "submitted_at", "id"
        ),
        Index("ix_tips_queue_due", "due_at", "id"),
        Index("ix_tips_queue_division_due", "division_id", "due_at", "id"),
        Index("ix_tips_queue_division_state_due", "division_id", "state", "due_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    state: Mapped[TipState] = mapped_column(str_enum(TipState, "tip_state"), index=True)
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[TipCategory] = mapped_column(str_enum(TipCategory, "tip_category"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "tip_channel", 10))
    # A registered facility (the registry issue adds the table and the foreign key). A facility
    # that is not registered is typed by the reporter and stored only in facility_name_enc.
    facility_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Rounded down to the hour: the exact minute would help a facility owner match a reporter
    # to a shift.
    submitted_at: Mapped[dt.datetime] = mapped_column(index=True)

    description_enc: Mapped[bytes] = mapped_column(LargeBinary)
    location_enc: Mapped[bytes] = mapped_column(LargeBinary)
    facility_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    observed_when_enc: Mapped[bytes] = mapped_column(LargeBinary)
    relationship_enc: Mapped[bytes] = mapped_column(LargeBinary)
    contact_enc: Mapped[bytes] = mapped_column(LargeBinary)
    real_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # SHA-256 of crypto.tokens.reporter_proof(data key, id), stored at intake: the public site's
    # role must present the proof itself for a reporter step (migration 0008). NULL for tips
    # stored before 0008, which keep 0007's rules.
    reporter_proof_sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    # ---- triage workflow (triage.services). Officers' actions are timed exactly (staff-only
    # metadata); the reporter's own action (objected_at) is rounded down to the hour like
    # submitted_at. Texts the reporter reads (decision, extension reason, conclusions) and the
    # reporter's objection are FIELD envelopes under the tip's data key, kind "tip", object the
    # tip id, field the column name without _enc.
    accepted_at: Mapped[dt.datetime | None]
    not_accepted_reason: Mapped[NotAcceptedReason | None] = mapped_column(
        str_enum(NotAcceptedReason, "not_accepted_reason")
    )
    # The other regulator a tip was transferred to: the officer's words, a routing value.
    transferred_to: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]  # not accepted or transferred
    decision_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # text / note to reporter
    verification_started_at: Mapped[dt.datetime | None]
    verification_due_at: Mapped[dt.datetime | None]
    extension_days: Mapped[int | None] = mapped_column(Integer)
    extension_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    conclusion: Mapped[TipState | None] = mapped_column(str_enum(TipState, "tip_conclusion"))
    concluded_at: Mapped[dt.datetime | None]
    conclusion_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    objection_due_at: Mapped[dt.datetime | None]
    objected_at: Mapped[dt.datetime | None]  # rounded down to the hour (the reporter's act)
    objection_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recheck_due_at: Mapped[dt.datetime | None]
    recheck_outcome: Mapped[TipState | None] = mapped_column(
        str_enum(TipState, "tip_recheck_outcome")
    )
    recheck_concluded_at: Mapped[dt.datetime | None]
    recheck_conclusion_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    closed_at: Mapped[dt.datetime | None]
    # The deadline of the current officer step (verification or re-check), NULL otherwise:
    # one column so the queue sorts and filters by "due" with one index.
    due_at: Mapped[dt.datetime | None]
    # Set by `qingling jobs run-due` when due_at has passed; cleared with due_at.
    overdue_since: Mapped[dt.datetime | None]
    # An officer's question waits for the reporter's answer since then (NULL: none open).
    awaiting_reply_since: Mapped[dt.datetime | None]
    duplicate_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tips.id", ondelete="RESTRICT"), index=True
    )
    # The earliest accepted tip of a matter keeps the reward right (triage.services.duplicates).
    reward_right: Mapped[bool] = mapped_column(Boolean, default=False)

    # Collections are small (three groups, ≤ 10 files) but queried by the services anyway;
    # the relationships exist for cascades and back_populates, never loaded in bulk.
    keys: Mapped[list[TipKey]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )
    token: Mapped[TipToken | None] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )

    @validates("submitted_at")
    def _check_submitted_at(self, _key: str, value: dt.datetime) -> dt.datetime:
        return _on_the_hour(value)

    @validates("objected_at")
    def _check_objected_at(self, _key: str, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else _on_the_hour(value)

    @validates("id")
    def _check_id(self, _key: str, value: uuid.UUID) -> uuid.UUID:
        if value.version != 4:
            raise ValueError("tip ids are random UUIDv4")
        return value


class TipKey(Base):
    """The tip's data key sealed (HPKE, DATA_KEY envelope) to one version of a key group.

    ``info`` binds tip id, group id and group version, so a row copied to another tip, group or
    version does not open. ``group_id`` refers to the key-group table of ``core.keys``; it is
    not a foreign key so that intake does not depend on that table's shape.
    """

    __tablename__ = "tip_keys"
    __table_args__ = (
        CheckConstraint("group_version >= 1", name="group_version_positive"),
        CheckConstraint(f"length(envelope) = {DATA_KEY_ENVELOPE_LEN}", name="envelope_length"),
    )

    tip_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    group_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    envelope: Mapped[bytes] = mapped_column(LargeBinary(DATA_KEY_ENVELOPE_LEN))

    tip: Mapped[Tip] = relationship(back_populates="keys", lazy="raise")


class TipToken(Base):
    """The reporter's copy of the data key, wrapped under HKDF(S, "wrap" ‖ tip id), found by
    ``token_index`` = HKDF(S, "index"), where S = scrypt(HMAC(pepper, token), salt) with the
    parameters of ``params_version``. One row per tip; replacing the token rewrites it."""

    __tablename__ = "tip_tokens"
    __table_args__ = (
        CheckConstraint(f"length(token_index) = {TOKEN_INDEX_LEN}", name="index_length"),
        CheckConstraint(f"length(wrapped_key) = {WRAPPED_KEY_LEN}", name="wrapped_key_length"),
    )

    tip_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True
    )
    params_version: Mapped[int] = mapped_column(
        ForeignKey("token_param_sets.version", ondelete="RESTRICT"), index=True
    )
    token_index: Mapped[bytes] = mapped_column(LargeBinary(TOKEN_INDEX_LEN), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(WRAPPED_KEY_LEN))

    tip: Mapped[Tip] = relationship(back_populates="token", lazy="raise")


class Attachment(Base):
    """A file of a tip: name and type as FIELD envelopes (kind ``"attachment"``, object id the
    attachment id), content as a STREAM of chunk rows. No size column: the chunk rows show it
    anyway, and a second copy would only be one more thing to keep consistent."""

    __tablename__ = "tip_attachments"
    __table_args__ = (
        UniqueConstraint("tip_id", "position"),
        CheckConstraint("position >= 0", name="position_non_negative"),
        CheckConstraint(f"length(stream_header) = {STREAM_HEADER_LEN}", name="header_length"),
        CheckConstraint(f"length(name_enc) >= {MIN_FIELD_ENVELOPE_LEN}", name="name_length"),
        CheckConstraint(
            f"length(content_type_enc) >= {MIN_FIELD_ENVELOPE_LEN}", name="content_type_length"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order of the files within the tip
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_type_enc: Mapped[bytes] = mapped_column(LargeBinary)
    stream_header: Mapped[bytes] = mapped_column(LargeBinary(STREAM_HEADER_LEN))
    # Identifying metadata (EXIF, XMP, …) was removed before encryption (intake.media).
    scrubbed: Mapped[bool] = mapped_column(Boolean)

    tip: Mapped[Tip] = relationship(back_populates="attachments", lazy="raise")

    @validates("id")
    def _check_id(self, _key: str, value: uuid.UUID) -> uuid.UUID:
        if value.version != 4:
            raise ValueError("attachment ids are random UUIDv4")
        return value


class AttachmentChunk(Base):
    """One sealed STREAM chunk (``crypto.stream``): ciphertext ‖ tag, 1 MiB of plaintext each
    except the last. Written and read with Core statements one chunk at a time, never loaded as
    a collection, so a 50 MB file never sits whole in memory."""

    __tablename__ = "tip_attachment_chunks"
    __table_args__ = (
        CheckConstraint("chunk_index >= 0", name="index_non_negative"),
        CheckConstraint(f"length(data) >= {CHUNK_TAG_LEN}", name="data_length"),
    )

    attachment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tip_attachments.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    final: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TipMessage(Base):
    """A message in a tip's thread (an officer's question, the reporter's answer).

    Written and read by :mod:`triage.services.messages` (officers) and
    :mod:`triage.services.reporter` (the reporter, through ``ReporterAccess``).
    ``body_enc`` is ``encrypt_text(data_key, body, tip_id=…, kind="message", object_id=id,
    field_name="body")``. ``seq`` orders the thread (the hour alone cannot).
    """

    __tablename__ = "tip_messages"
    __table_args__ = (
        UniqueConstraint("tip_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(f"length(body_enc) >= {MIN_FIELD_ENVELOPE_LEN}", name="body_length"),
        CheckConstraint(
            "(author = 'officer') = (author_id IS NOT NULL)", name="officer_has_author"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[MessageAuthor] = mapped_column(str_enum(MessageAuthor, "message_author", 10))
    # The officer who wrote it (staff-only; the reporter sees "officer"). NULL for the reporter.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime]  # rounded down to the hour, like submitted_at
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)

    @validates("created_at")
    def _check_created_at(self, _key: str, value: dt.datetime) -> dt.datetime:
        return _on_the_hour(value)


class ReporterSession(Base):
    """A reporter's session after the token was checked once (web cookie or API bearer).

    Found by SHA-256 of a random value that only the client holds (the public site's cookie, or
    the API's bearer credential); holds the tip's data key wrapped under HKDF of that value
    (``WRAPPED`` envelope, purpose ``data-key/reporter-session``, bound to the tip id), so a
    database dump of live sessions opens nothing. Only the idle deadline is stored: the row goes
    at logout, at the first use after it expired, or when any new session is opened after it
    expired (``intake.services.sessions``).
    """

    __tablename__ = "reporter_sessions"
    __table_args__ = (
        CheckConstraint("length(value_hash) = 32", name="value_hash_length"),
        CheckConstraint(f"length(data_key_enc) = {WRAPPED_KEY_LEN}", name="data_key_length"),
    )

    value_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    data_key_enc: Mapped[bytes] = mapped_column(LargeBinary(WRAPPED_KEY_LEN))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
