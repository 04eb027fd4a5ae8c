"""Key groups, their versioned signed public keys, grants, recovery escrows and personal keys.

No private key is ever stored in the clear: a group's private key exists only sealed (HPKE) to
each member's personal key (:class:`GroupGrant`) and to the recovery group
(:class:`GroupEscrow`); a personal private key exists only wrapped under the member's
password-derived key and under their recovery-code key (:class:`PersonalKey`). See
``docs/crypto.md``.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, enum_values


class GroupKind(enum.StrEnum):
    RECOVERY = "recovery"  # every group key and every tip; private key offline, printed once
    TRIAGE = "triage"  # a division's triage group, or the city's (division NULL)
    FINANCE = "finance"  # payment details of reward claims


class KeyGroup(Base):
    """A key group. ``slug`` names it for people and for the signed key record's purpose:
    ``recovery``, ``finance``, ``triage:city``, ``triage:division:<id>``."""

    __tablename__ = "key_groups"
    __table_args__ = (
        CheckConstraint("kind = 'triage' OR division_id IS NULL", name="division_only_triage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[GroupKind] = mapped_column(
        Enum(
            GroupKind,
            native_enum=False,
            length=10,
            values_callable=enum_values,
            name="group_kind",
            create_constraint=True,
            validate_strings=True,
        )
    )
    division_id: Mapped[int | None] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime]


class GroupKey(Base):
    """One version of a group's X25519 key pair: the public half as a signed key record.

    The current version is the highest; versions are never deleted, since tips sealed to an
    older version still open with it.
    """

    __tablename__ = "group_keys"
    __table_args__ = (
        UniqueConstraint("group_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("key_groups.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # SIGNATURE envelope over KeyRecord(group id, "group/<slug>", version, public key).
    signature: Mapped[bytes] = mapped_column(LargeBinary(67))
    # SHA-256 of the record and its signature, hex; the same value is in the audit chain.
    record_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class GroupGrant(Base):
    """A group key version sealed (HPKE) to one member's personal key version."""

    __tablename__ = "group_grants"
    __table_args__ = (
        UniqueConstraint("group_id", "group_version", "user_id"),
        ForeignKeyConstraint(
            ["group_id", "group_version"],
            ["group_keys.group_id", "group_keys.version"],
            ondelete="RESTRICT",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer)
    group_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    user_key_version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary(83))
    # Who granted: a member (their id and user name) or the recovery key (id NULL).
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[dt.datetime]


class GroupEscrow(Base):
    """A group key version sealed to a version of the recovery group's key, so the offline
    recovery key can always grant any group (and read any group's tips)."""

    __tablename__ = "group_escrows"
    __table_args__ = (
        UniqueConstraint("group_id", "group_version", "recovery_version"),
        ForeignKeyConstraint(
            ["group_id", "group_version"],
            ["group_keys.group_id", "group_keys.version"],
            ondelete="RESTRICT",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer)
    group_version: Mapped[int] = mapped_column(Integer)
    recovery_version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary(83))
    created_at: Mapped[dt.datetime]


class PersonalKey(Base):
    """A staff member's X25519 key pair (one row per user; ``version`` counts replacements).

    The private key is wrapped twice: under the key derived from the password (with the
    password's Argon2id run) and under a key derived from the one-time recovery code (Argon2id
    over the code with its own salt). The public key is signed like a group key, so a database
    writer cannot substitute a key of their own before the next grant.
    """

    __tablename__ = "personal_keys"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(recovery_wrapped IS NULL) = (recovery_salt IS NULL) "
            "AND (recovery_wrapped IS NULL) = (recovery_kdf IS NULL)",
            name="recovery_consistent",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(67))
    # WRAPPED envelope, purpose "personal-key/password", context (user id, version).
    password_wrapped: Mapped[bytes] = mapped_column(LargeBinary(128))
    # WRAPPED envelope, purpose "personal-key/recovery"; NULL until a code is issued.
    recovery_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    recovery_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    recovery_kdf: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]
    recovery_issued_at: Mapped[dt.datetime | None]
