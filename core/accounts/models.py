"""Staff users, their roles, login sessions and login throttling records."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models import Base, enum_values


class Role(enum.StrEnum):
    TRIAGE_OFFICER = "triage_officer"
    CASE_OFFICER = "case_officer"
    FINANCE_OFFICER = "finance_officer"
    FINANCE_APPROVER = "finance_approver"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"


# Roles whose scope is always the whole city, whatever the user's division.
CITY_ROLES = frozenset({Role.SUPERVISOR, Role.AUDITOR})


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("length(username) >= 3", name="username_length"),
        CheckConstraint(
            "(totp_seed_enc IS NULL) = (totp_enrolled_at IS NULL)", name="totp_consistent"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    # NULL division: the user's scope is the whole city.
    division_id: Mapped[int | None] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Argon2id salt and the login verifier derived from the Argon2id output (DESIGN.md).
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    kdf_params: Mapped[str] = mapped_column(String(100))  # e.g. "argon2id:m=65536,t=3,p=1"
    password_changed_at: Mapped[dt.datetime]
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_seed_enc: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    totp_enrolled_at: Mapped[dt.datetime | None]
    # Last TOTP time step accepted: a code is accepted once only.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.role_set.intersection(roles))

    @property
    def is_city_scope(self) -> bool:
        return self.division_id is None


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=30,
            values_callable=enum_values,
            name="role",
            create_constraint=True,
            validate_strings=True,
        )
    )
    user: Mapped[User] = relationship(back_populates="roles")


class SessionStage(enum.StrEnum):
    TOTP = "totp"  # password accepted, second factor (or its enrolment) pending
    FULL = "full"


class StaffSession(Base):
    """A login session, found by SHA-256 of the random value in the cookie."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stage: Mapped[SessionStage] = mapped_column(
        Enum(
            SessionStage,
            native_enum=False,
            length=10,
            values_callable=enum_values,
            name="session_stage",
            create_constraint=True,
            validate_strings=True,
        )
    )
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    # The member's unwrapped personal key, encrypted under HKDF(cookie value) (key groups).
    personal_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary(256))
    # A TOTP seed being enrolled (shown as a QR code, not yet confirmed by a code), sealed under
    # the TOTP key. It lives with the pending session and goes when that session ends.
    totp_pending_enc: Mapped[bytes | None] = mapped_column(LargeBinary(128))

    # One-way on purpose: a user's sessions are queried (and deleted) in bulk, never loaded.
    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed login, keyed by an HMAC of the account name or of the address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
