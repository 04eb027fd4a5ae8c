"""Key groups: creation, signed versions, grants, removal with rotation, recovery, and the public
keys that intake seals tips to (DESIGN.md "Key hierarchy", docs/crypto.md "Key groups").

Groups (by slug): ``recovery``; ``triage:city``; ``triage:division:<id>`` for each division;
``finance``. Each version of a group's X25519 key pair has its public half in a
:class:`~core.keys.models.GroupKey` row signed with the staff-side Ed25519 key, and its private
half only sealed: to each member's personal key (a grant) and to the recovery group (an
escrow). The recovery group's own private key exists only on the printed recovery sheet.

**Who may grant.** A grant is explicit: a role grants nothing. Only a current member of the
group (who unwraps the group key with their own personal key) or the holder of the recovery key
can seal a group's key to someone, and only to someone whose roles fit the group
(:func:`role_fits`):

- ``triage:city``: an active triage officer with city-wide scope;
- ``triage:division:<id>``: an active triage officer whose scope covers that division (the
  division's own officers, or a city-wide one);
- ``finance``: an active finance officer or finance approver;
- ``recovery``: nobody (it is never granted).

The grantee must also have chosen their own password (not ``must_change_password``): a key
wrapped under a password someone else knows is not given access. A granting member must still
hold a fitting role themselves. Removing a role does *not* remove a membership (that needs a
group key the administrator does not have): a member or the recovery key revokes it, and the
group listings flag members whose roles no longer fit.

**Removal** rotates the group key in the same transaction: a new version, signed, sealed to
every remaining member and to the recovery group; the removed member keeps the grants of older
versions, so what they could read before stays readable to them (docs/crypto.md says so).

Every change writes an audit record naming versions, fingerprints and the SHA-256 of every key
record and sealed envelope; never a key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from core.accounts.access import in_scope
from core.accounts.models import Role, User
from core.audit.services import Actor, actor_of, record
from core.clock import Clock
from core.keys import personal, records
from core.keys.errors import (
    AlreadyMember,
    GranteeNotReady,
    GroupExists,
    GroupNotFound,
    KeyIntegrityError,
    KeyRecordRejected,
    KeyRollback,
    KeysNotInitialised,
    NotAMember,
    RecoveryAlreadyInitialised,
    RecoveryNotGrantable,
    RoleDoesNotFit,
    SealedKeyRejected,
    UserNotMember,
    WrongRecoveryKey,
)
from core.keys.models import GroupEscrow, GroupGrant, GroupKey, GroupKind, KeyGroup, PersonalKey
from core.keys.pins import KeyPins
from core.keys.types import Recipient
from core.settings import Settings
from crypto import envelope, signing
from crypto.errors import CryptoError
from registry.models import Division

RECOVERY = "recovery"
FINANCE = "finance"
CITY_TRIAGE = "triage:city"
_DIVISION_PREFIX = "triage:division:"

#: The audit actor when the recovery key grants, revokes or rotates.
RECOVERY_ACTOR = Actor(None, "recovery key")
#: What an escrow's GROUP_KEY envelope binds in place of a user id (a str, so it can never
#: equal an integer user id in the binding encoding).
RECOVERY_BINDING = "recovery"


def division_slug(division_id: int) -> str:
    return f"{_DIVISION_PREFIX}{division_id}"


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class MemberAuthority:
    """A current member acting with their unwrapped personal key."""

    user: User
    personal_private_key: bytes = field(repr=False)


@dataclass(frozen=True)
class RecoveryAuthority:
    """The holder of the offline recovery private key."""

    private_key: bytes = field(repr=False)


Authority = MemberAuthority | RecoveryAuthority


@dataclass(frozen=True)
class RecoverySheet:
    """What ``qingling keys init-recovery`` prints once."""

    private_key: bytes = field(repr=False)
    public_key: bytes
    version: int
    created_at: dt.datetime

    @property
    def fingerprint(self) -> str:
        return envelope.fingerprint(self.public_key)

    @property
    def key_text(self) -> str:
        return format_recovery_key(self.private_key)


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    display_name: str
    user_key_version: int
    granted_by: str
    granted_at: dt.datetime
    role_fits: bool


@dataclass(frozen=True)
class GroupStatus:
    group_id: int
    slug: str
    label: str
    version: int
    fingerprint: str
    signature_ok: bool
    members: int


# ---------------------------------------------------------------- recovery key text

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = str.maketrans(_B32, _CROCKFORD)
_FROM_CROCKFORD = str.maketrans(_CROCKFORD, _B32)
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_KEY_SYMBOLS = 52  # 256 bits in base32


def format_recovery_key(private_key: bytes) -> str:
    """A 32-byte key as 52 Crockford base32 symbols in 13 groups of four."""
    text = base64.b32encode(private_key).decode("ascii").rstrip("=").translate(_TO_CROCKFORD)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    """The key from its sheet text (grouped base32, any case and separators) or 64 hex digits.

    Whether it is the *current* recovery key is checked against the stored public key.
    """
    folded = unicodedata.normalize("NFKC", text or "")
    compact = "".join(
        ch for ch in folded if not ch.isspace() and unicodedata.category(ch) not in {"Pd", "Cf"}
    )
    if _HEX_RE.fullmatch(compact):
        return bytes.fromhex(compact)
    symbols = compact.upper().translate(_CONFUSABLE)
    if len(symbols) != _KEY_SYMBOLS or any(ch not in _CROCKFORD for ch in symbols):
        raise WrongRecoveryKey()
    try:
        raw = base64.b32decode(symbols.translate(_FROM_CROCKFORD) + "====")
    except (binascii.Error, ValueError):
        raise WrongRecoveryKey() from None
    if len(raw) != envelope.KEY_LEN:
        raise WrongRecoveryKey()
    return raw


# ---------------------------------------------------------------- lookups


def find_group(session: Session, slug: str) -> KeyGroup | None:
    return session.scalar(select(KeyGroup).where(KeyGroup.slug == slug))


def get_group(session: Session, group_id: int) -> KeyGroup:
    group = session.get(KeyGroup, group_id)
    if group is None:
        raise GroupNotFound()
    return group


def list_groups(session: Session) -> list[KeyGroup]:
    return list(session.scalars(select(KeyGroup).order_by(KeyGroup.id)))


def resolve_group(session: Session, name: str) -> KeyGroup:
    """A group by the name people type: ``recovery``, ``finance``, ``triage:city``,
    ``triage:<division name, English name or id>`` (or the slug itself)."""
    text = name.strip()
    lowered = text.casefold()
    if lowered in {RECOVERY, FINANCE, CITY_TRIAGE} or lowered.startswith(_DIVISION_PREFIX):
        slug = lowered
    elif lowered.startswith("triage:"):
        rest = text.split(":", 1)[1].strip()
        if rest.isdigit():
            division = session.get(Division, int(rest))
        else:
            division = session.scalar(
                select(Division).where((Division.name == rest) | (Division.name_en == rest))
            )
        if division is None:
            raise GroupNotFound()
        slug = division_slug(division.id)
    else:
        raise GroupNotFound()
    group = find_group(session, slug)
    if group is None:
        raise GroupNotFound()
    return group


def group_label(session: Session, group: KeyGroup) -> str:
    """``triage:<division name>`` for a division's group; the slug otherwise."""
    if group.division_id is not None:
        division = session.get(Division, group.division_id)
        if division is not None:
            return f"triage:{division.name}"
    return group.slug


def current_key(session: Session, group: KeyGroup) -> GroupKey:
    """The newest version of a group's key (versions only ever go up)."""
    key = session.scalar(
        select(GroupKey).where(GroupKey.group_id == group.id).order_by(GroupKey.version.desc())
    )
    if key is None:
        raise KeyRecordRejected()
    return key


def _key_version(session: Session, group: KeyGroup, version: int) -> GroupKey:
    key = session.scalar(
        select(GroupKey).where(GroupKey.group_id == group.id, GroupKey.version == version)
    )
    if key is None:
        raise GroupNotFound()
    return key


def _key_record(group: KeyGroup, key: GroupKey) -> signing.KeyRecord:
    return signing.KeyRecord(
        group.id, records.group_purpose(group.slug), key.version, key.public_key
    )


def _require_recovery(session: Session) -> KeyGroup:
    group = find_group(session, RECOVERY)
    if group is None:
        raise KeysNotInitialised()
    return group


# ---------------------------------------------------------------- roles


def role_fits(group: KeyGroup, user: User) -> bool:
    """Whether ``user``'s roles and scope fit ``group`` (see the module docstring)."""
    if not user.active:
        return False
    if group.kind == GroupKind.FINANCE:
        return user.has_role(Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
    if group.kind == GroupKind.TRIAGE:
        if not user.has_role(Role.TRIAGE_OFFICER):
            return False
        if group.division_id is None:
            return user.division_id is None
        return in_scope(user, group.division_id)
    return False


# ---------------------------------------------------------------- making versions


def _new_version(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    group: KeyGroup,
    *,
    version: int,
) -> tuple[GroupKey, bytes]:
    """A new signed key version of ``group``; returns the row and the private key."""
    pair = envelope.generate_keypair()
    rec = signing.KeyRecord(group.id, records.group_purpose(group.slug), version, pair.public_key)
    signature = records.sign(settings, rec)
    key = GroupKey(
        group_id=group.id,
        version=version,
        public_key=pair.public_key,
        signature=signature,
        record_sha256=records.record_sha256(rec, signature),
        created_at=clock.now(),
        created_by=actor.label[:100],
    )
    session.add(key)
    # Flushed so that the grants and escrows inserted next find this version (their foreign
    # key) whatever order the unit of work picks.
    session.flush()
    return key, pair.private_key


def _recovery_key(session: Session, settings: Settings) -> tuple[KeyGroup, GroupKey]:
    """The recovery group's current key, signature checked (before anything is sealed to it)."""
    group = _require_recovery(session)
    key = current_key(session, group)
    records.verify(records.staff_verifying_key(settings), _key_record(group, key), key.signature)
    return group, key


def _escrow(
    session: Session,
    clock: Clock,
    settings: Settings,
    group: KeyGroup,
    *,
    version: int,
    private_key: bytes,
) -> GroupEscrow:
    _, rec_key = _recovery_key(session, settings)
    sealed = envelope.seal_group_key(
        rec_key.public_key,
        private_key,
        group_id=group.id,
        group_version=version,
        user_id=RECOVERY_BINDING,
        user_key_version=rec_key.version,
    )
    escrow = GroupEscrow(
        group_id=group.id,
        group_version=version,
        recovery_version=rec_key.version,
        sealed=sealed,
        created_at=clock.now(),
    )
    session.add(escrow)
    return escrow


def _seal_to(
    session: Session,
    clock: Clock,
    settings: Settings,
    group: KeyGroup,
    *,
    version: int,
    private_key: bytes,
    user: User,
    granted_by: Actor,
) -> GroupGrant:
    """Seal a group key version to ``user``'s personal key (its signature checked first)."""
    pk = personal.signed_public_key(session, settings, user.id)
    sealed = envelope.seal_group_key(
        pk.public_key,
        private_key,
        group_id=group.id,
        group_version=version,
        user_id=user.id,
        user_key_version=pk.version,
    )
    grant = GroupGrant(
        group_id=group.id,
        group_version=version,
        user_id=user.id,
        user_key_version=pk.version,
        sealed=sealed,
        granted_by_id=granted_by.id,
        granted_by=granted_by.label[:100],
        granted_at=clock.now(),
    )
    session.add(grant)
    return grant


def _create_group(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    *,
    kind: GroupKind,
    slug: str,
    division_id: int | None = None,
) -> tuple[KeyGroup, GroupKey, bytes]:
    if find_group(session, slug) is not None:
        raise GroupExists()
    group = KeyGroup(slug=slug, kind=kind, division_id=division_id, created_at=clock.now())
    session.add(group)
    # Flushed for the group id, which the signed key record names.
    session.flush()
    key, private_key = _new_version(session, clock, settings, actor, group, version=1)
    details: dict[str, object] = {
        "slug": slug,
        "version": 1,
        "fingerprint": envelope.fingerprint(key.public_key),
        "record_sha256": key.record_sha256,
    }
    if kind != GroupKind.RECOVERY:
        escrow = _escrow(session, clock, settings, group, version=1, private_key=private_key)
        details["escrow_sha256"] = records.envelope_sha256(escrow.sealed)
    record(session, clock, actor, "key_group.created", "key_group", group.id, details)
    return group, key, private_key


def init_recovery(
    session: Session, clock: Clock, settings: Settings, actor: Actor
) -> tuple[RecoverySheet, list[KeyGroup]]:
    """Create the recovery group (once) and the standard groups; returns the recovery sheet
    (print it once) and the groups created."""
    if find_group(session, RECOVERY) is not None:
        raise RecoveryAlreadyInitialised()
    _, key, private_key = _create_group(
        session, clock, settings, actor, kind=GroupKind.RECOVERY, slug=RECOVERY
    )
    created = ensure_standard_groups(session, clock, settings, actor)
    sheet = RecoverySheet(
        private_key=private_key,
        public_key=key.public_key,
        version=key.version,
        created_at=key.created_at,
    )
    return sheet, created


def ensure_standard_groups(
    session: Session, clock: Clock, settings: Settings, actor: Actor
) -> list[KeyGroup]:
    """Create whichever of the city triage group, the finance group and one triage group per
    active division is missing (needs the recovery group, to escrow each key)."""
    _require_recovery(session)
    wanted: list[tuple[GroupKind, str, int | None]] = [
        (GroupKind.TRIAGE, CITY_TRIAGE, None),
        (GroupKind.FINANCE, FINANCE, None),
    ]
    divisions = session.scalars(
        select(Division).where(Division.active.is_(True)).order_by(Division.sort_order, Division.id)
    )
    wanted += [(GroupKind.TRIAGE, division_slug(d.id), d.id) for d in divisions]
    created = []
    for kind, slug, division_id in wanted:
        if find_group(session, slug) is None:
            group, _, _ = _create_group(
                session, clock, settings, actor, kind=kind, slug=slug, division_id=division_id
            )
            created.append(group)
    return created


# ---------------------------------------------------------------- unlocking


def _check_opened(key: GroupKey, private_key: bytes) -> bytes:
    """The opened private key must be the one whose public half is stored for this version."""
    try:
        matches = envelope.public_key_of(private_key) == key.public_key
    except CryptoError:
        matches = False
    if not matches:
        raise KeyIntegrityError()
    return private_key


def unlock_group(
    session: Session, user: User, personal_private_key: bytes, group_id: int, version: int
) -> bytes:
    """The private key of version ``version`` of a group, opened from ``user``'s grant with
    their personal private key. :class:`NotAMember` if they hold no grant for that version."""
    group = get_group(session, group_id)
    key = _key_version(session, group, version)
    if not user.active:
        raise NotAMember()
    grant = session.scalar(
        select(GroupGrant).where(
            GroupGrant.group_id == group.id,
            GroupGrant.group_version == version,
            GroupGrant.user_id == user.id,
        )
    )
    pk = personal.personal_key_of(session, user.id)
    if grant is None or pk is None or pk.version != grant.user_key_version:
        raise NotAMember()
    try:
        opened = envelope.open_group_key(
            personal_private_key,
            grant.sealed,
            group_id=group.id,
            group_version=version,
            user_id=user.id,
            user_key_version=grant.user_key_version,
        )
    except CryptoError:
        raise NotAMember() from None
    return _check_opened(key, opened)


def unlock_group_with_recovery(
    session: Session, recovery_private_key: bytes, group_id: int, version: int
) -> bytes:
    """The same with the recovery private key (through the group's escrow)."""
    rec_group = _require_recovery(session)
    rec_key = current_key(session, rec_group)
    try:
        if envelope.public_key_of(recovery_private_key) != rec_key.public_key:
            raise WrongRecoveryKey()
    except CryptoError:
        raise WrongRecoveryKey() from None
    group = get_group(session, group_id)
    key = _key_version(session, group, version)
    if group.id == rec_group.id and version == rec_key.version:
        return recovery_private_key
    escrow = session.scalar(
        select(GroupEscrow).where(
            GroupEscrow.group_id == group.id,
            GroupEscrow.group_version == version,
            GroupEscrow.recovery_version == rec_key.version,
        )
    )
    if escrow is None:
        raise KeyIntegrityError()
    try:
        opened = envelope.open_group_key(
            recovery_private_key,
            escrow.sealed,
            group_id=group.id,
            group_version=version,
            user_id=RECOVERY_BINDING,
            user_key_version=rec_key.version,
        )
    except CryptoError:
        raise KeyIntegrityError() from None
    return _check_opened(key, opened)


def _unlock(session: Session, authority: Authority, group: KeyGroup, version: int) -> bytes:
    if isinstance(authority, RecoveryAuthority):
        return unlock_group_with_recovery(session, authority.private_key, group.id, version)
    return unlock_group(session, authority.user, authority.personal_private_key, group.id, version)


def _actor(authority: Authority) -> Actor:
    if isinstance(authority, RecoveryAuthority):
        return RECOVERY_ACTOR
    return actor_of(authority.user)


def open_tip_data_key(
    session: Session,
    user: User,
    personal_private_key: bytes,
    *,
    tip_id: uuid.UUID,
    group_id: int,
    group_version: int,
    sealed_data_key: bytes,
) -> bytes:
    """Open a tip's data key sealed to ``(group_id, group_version)`` with ``user``'s grant.

    For triage: the caller checks the user's role and scope for the tip and writes the audit
    record of the read; this checks the key membership. :class:`NotAMember` without a grant
    for that version, :class:`SealedKeyRejected` if the envelope does not open (wrong tip,
    group or version, or tampering).
    """
    group_key = unlock_group(session, user, personal_private_key, group_id, group_version)
    try:
        return envelope.open_data_key(
            group_key,
            sealed_data_key,
            tip_id=tip_id,
            group_id=group_id,
            group_version=group_version,
        )
    except CryptoError:
        raise SealedKeyRejected() from None


# ---------------------------------------------------------------- members


def _member_grants(session: Session, group: KeyGroup, version: int) -> list[GroupGrant]:
    """Grants of ``version`` sealed to the member's current personal key version."""
    return list(
        session.scalars(
            select(GroupGrant)
            .join(PersonalKey, PersonalKey.user_id == GroupGrant.user_id)
            .where(
                GroupGrant.group_id == group.id,
                GroupGrant.group_version == version,
                GroupGrant.user_key_version == PersonalKey.version,
            )
            .order_by(GroupGrant.user_id)
        )
    )


def is_member(session: Session, group: KeyGroup, user_id: int) -> bool:
    """Whether ``user_id`` holds the group's current key."""
    version = current_key(session, group).version
    return any(g.user_id == user_id for g in _member_grants(session, group, version))


def members(session: Session, group: KeyGroup) -> list[Member]:
    """The current members (holders of the current version), with whether their roles fit."""
    version = current_key(session, group).version
    out = []
    for grant in _member_grants(session, group, version):
        user = session.get(User, grant.user_id)
        if user is None:  # pragma: no cover - the grant cascades with the user
            continue
        out.append(
            Member(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                user_key_version=grant.user_key_version,
                granted_by=grant.granted_by,
                granted_at=grant.granted_at,
                role_fits=role_fits(group, user),
            )
        )
    return out


def memberships(session: Session, user: User) -> list[KeyGroup]:
    """The groups whose current key ``user`` holds."""
    latest = (
        select(GroupKey.group_id, func.max(GroupKey.version).label("version"))
        .group_by(GroupKey.group_id)
        .subquery()
    )
    query = (
        select(KeyGroup)
        .join(GroupGrant, GroupGrant.group_id == KeyGroup.id)
        .join(
            latest,
            (latest.c.group_id == GroupGrant.group_id)
            & (latest.c.version == GroupGrant.group_version),
        )
        .join(PersonalKey, PersonalKey.user_id == GroupGrant.user_id)
        .where(GroupGrant.user_id == user.id, GroupGrant.user_key_version == PersonalKey.version)
        .order_by(KeyGroup.id)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- grant, revoke, rotate


def _check_authority(session: Session, authority: Authority, group: KeyGroup) -> None:
    if isinstance(authority, MemberAuthority):
        user = authority.user
        if not role_fits(group, user) or not is_member(session, group, user.id):
            raise NotAMember()


def grant(
    session: Session,
    clock: Clock,
    settings: Settings,
    authority: Authority,
    group: KeyGroup,
    *,
    grantee: User,
) -> GroupGrant:
    """Seal the group's current key to ``grantee`` (re-sealing the current version only: they
    read tips sealed to it, earlier or later, and none sealed to older versions)."""
    if group.kind == GroupKind.RECOVERY:
        raise RecoveryNotGrantable()
    if not grantee.active or grantee.must_change_password:
        raise GranteeNotReady()
    if not role_fits(group, grantee):
        raise RoleDoesNotFit()
    _check_authority(session, authority, group)
    key = current_key(session, group)
    if is_member(session, group, grantee.id):
        raise AlreadyMember()
    stale = session.scalar(
        select(GroupGrant).where(
            GroupGrant.group_id == group.id,
            GroupGrant.group_version == key.version,
            GroupGrant.user_id == grantee.id,
        )
    )
    if stale is not None:  # sealed to a personal key the grantee no longer has
        session.delete(stale)
        # Flushed so the new grant does not collide with the old row's unique key.
        session.flush()
    private_key = _unlock(session, authority, group, key.version)
    actor = _actor(authority)
    new = _seal_to(
        session,
        clock,
        settings,
        group,
        version=key.version,
        private_key=private_key,
        user=grantee,
        granted_by=actor,
    )
    record(
        session,
        clock,
        actor,
        "key_group.member_added",
        "key_group",
        group.id,
        {
            "slug": group.slug,
            "version": key.version,
            "user_id": grantee.id,
            "username": grantee.username,
            "user_key_version": new.user_key_version,
            "envelope_sha256": records.envelope_sha256(new.sealed),
        },
    )
    return new


def _rotate(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    group: KeyGroup,
    *,
    exclude_user_id: int | None,
) -> tuple[GroupKey, dict[str, object]]:
    old = current_key(session, group)
    keep = [
        g.user_id
        for g in _member_grants(session, group, old.version)
        if g.user_id != exclude_user_id
    ]
    key, private_key = _new_version(session, clock, settings, actor, group, version=old.version + 1)
    seals: dict[str, str] = {}
    for user_id in keep:
        user = session.get(User, user_id)
        if user is None:  # pragma: no cover - the grant cascades with the user
            continue
        sealed = _seal_to(
            session,
            clock,
            settings,
            group,
            version=key.version,
            private_key=private_key,
            user=user,
            granted_by=actor,
        )
        seals[str(user_id)] = records.envelope_sha256(sealed.sealed)
    escrow = _escrow(session, clock, settings, group, version=key.version, private_key=private_key)
    details: dict[str, object] = {
        "slug": group.slug,
        "version": key.version,
        "previous_version": old.version,
        "fingerprint": envelope.fingerprint(key.public_key),
        "record_sha256": key.record_sha256,
        "member_envelopes_sha256": seals,
        "escrow_sha256": records.envelope_sha256(escrow.sealed),
    }
    return key, details


def rotate(
    session: Session, clock: Clock, settings: Settings, actor: Actor, group: KeyGroup
) -> GroupKey:
    """A new version of a (non-recovery) group's key, sealed to the current members and the
    recovery group. Needs no private key: the new key is fresh. Tips that arrive afterwards are
    sealed to it; older tips stay under the versions they were sealed to."""
    if group.kind == GroupKind.RECOVERY:
        raise RecoveryNotGrantable()
    key, details = _rotate(session, clock, settings, actor, group, exclude_user_id=None)
    record(session, clock, actor, "key_group.rotated", "key_group", group.id, details)
    return key


def revoke(
    session: Session,
    clock: Clock,
    settings: Settings,
    authority: Authority,
    group: KeyGroup,
    *,
    member: User,
) -> GroupKey:
    """Remove ``member`` and rotate the key in the same transaction. The member keeps the
    grants of older versions: what they could read before stays readable to them."""
    if group.kind == GroupKind.RECOVERY:
        raise RecoveryNotGrantable()
    if not is_member(session, group, member.id):
        raise UserNotMember()
    if isinstance(authority, MemberAuthority) and not is_member(session, group, authority.user.id):
        raise NotAMember()
    # Proves the authority holds the group's current key (a member's grant or the escrow).
    _unlock(session, authority, group, current_key(session, group).version)
    actor = _actor(authority)
    key, details = _rotate(session, clock, settings, actor, group, exclude_user_id=member.id)
    details.update(user_id=member.id, username=member.username)
    record(session, clock, actor, "key_group.member_removed", "key_group", group.id, details)
    return key


def rotate_recovery(
    session: Session, clock: Clock, settings: Settings, actor: Actor, old_private_key: bytes
) -> RecoverySheet:
    """Replace the recovery key: a new version whose sheet is printed once, and every escrow
    (including the old recovery key itself) re-sealed to it, so the old sheet can be destroyed.
    Tips sealed to the old recovery version open through that escrow."""
    rec_group = _require_recovery(session)
    old = current_key(session, rec_group)
    unlock_group_with_recovery(session, old_private_key, rec_group.id, old.version)
    old_escrows = list(
        session.scalars(select(GroupEscrow).where(GroupEscrow.recovery_version == old.version))
    )
    key, private_key = _new_version(
        session, clock, settings, actor, rec_group, version=old.version + 1
    )
    count = 0
    for escrow in old_escrows:
        opened = envelope.open_group_key(
            old_private_key,
            escrow.sealed,
            group_id=escrow.group_id,
            group_version=escrow.group_version,
            user_id=RECOVERY_BINDING,
            user_key_version=old.version,
        )
        _escrow_to(
            session,
            clock,
            key,
            group_id=escrow.group_id,
            version=escrow.group_version,
            private_key=opened,
        )
        count += 1
    _escrow_to(
        session,
        clock,
        key,
        group_id=rec_group.id,
        version=old.version,
        private_key=old_private_key,
    )
    record(
        session,
        clock,
        actor,
        "key_group.rotated",
        "key_group",
        rec_group.id,
        {
            "slug": RECOVERY,
            "version": key.version,
            "previous_version": old.version,
            "fingerprint": envelope.fingerprint(key.public_key),
            "record_sha256": key.record_sha256,
            "escrows_resealed": count + 1,
        },
    )
    return RecoverySheet(
        private_key=private_key,
        public_key=key.public_key,
        version=key.version,
        created_at=key.created_at,
    )


def _escrow_to(
    session: Session,
    clock: Clock,
    rec_key: GroupKey,
    *,
    group_id: int,
    version: int,
    private_key: bytes,
) -> None:
    sealed = envelope.seal_group_key(
        rec_key.public_key,
        private_key,
        group_id=group_id,
        group_version=version,
        user_id=RECOVERY_BINDING,
        user_key_version=rec_key.version,
    )
    session.add(
        GroupEscrow(
            group_id=group_id,
            group_version=version,
            recovery_version=rec_key.version,
            sealed=sealed,
            created_at=clock.now(),
        )
    )


# ---------------------------------------------------------------- status


def fingerprints(session: Session, settings: Settings) -> list[GroupStatus]:
    """Every group's current version, fingerprint, signature status and member count."""
    verifying_key = settings.key_verifying_key or records.staff_verifying_key(settings)
    out = []
    for group in list_groups(session):
        key = current_key(session, group)
        try:
            records.verify(verifying_key, _key_record(group, key), key.signature)
            ok = True
        except KeyRecordRejected:
            ok = False
        out.append(
            GroupStatus(
                group_id=group.id,
                slug=group.slug,
                label=group_label(session, group),
                version=key.version,
                fingerprint=envelope.fingerprint(key.public_key),
                signature_ok=ok,
                members=len(_member_grants(session, group, key.version)),
            )
        )
    return out


# ---------------------------------------------------------------- intake

#: Key records whose signature this process has already checked, by everything the check
#: covers: the verifying key, the record (group id, purpose, version, public key) and the
#: signature bytes. A hit means these exact bytes verified before, so skipping the Ed25519
#: check changes nothing; any other row (a tampered key or signature, another verifying key)
#: misses and is checked. Only successes are kept; bounded (cleared when full).
_VERIFIED: set[tuple[bytes, signing.KeyRecord, bytes]] = set()
_VERIFIED_MAX = 1024
_verified_lock = threading.Lock()


def _verify_remembered(verifying_key: bytes, rec: signing.KeyRecord, signature: bytes) -> None:
    """:func:`records.verify`, skipped for the exact bytes that already passed it here."""
    entry = (bytes(verifying_key), rec, bytes(signature))
    if entry in _VERIFIED:
        return
    records.verify(verifying_key, rec, signature)
    with _verified_lock:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED.add(entry)


#: Each group named in ``:slugs`` with its newest key version (NULL columns: no version). A
#: Core statement, not an ORM query: it runs for every submission.
_GROUPS = cast(Table, KeyGroup.__table__)
_KEYS = cast(Table, GroupKey.__table__)
_NEWEST = _KEYS.alias("newest")
_NEWEST_KEYS = (
    select(_GROUPS.c.id, _GROUPS.c.slug, _KEYS.c.version, _KEYS.c.public_key, _KEYS.c.signature)
    .select_from(
        _GROUPS.outerjoin(
            _KEYS,
            (_KEYS.c.group_id == _GROUPS.c.id)
            & (
                _KEYS.c.version
                == select(func.max(_NEWEST.c.version))
                .where(_NEWEST.c.group_id == _GROUPS.c.id)
                .scalar_subquery()
            ),
        )
    )
    .where(_GROUPS.c.slug.in_(bindparam("slugs", expanding=True)))
)


def tip_recipients(
    session: Session, settings: Settings, division_id: int | None, pins: KeyPins
) -> list[Recipient]:
    """The current public keys a new tip's data key is sealed to: the division's triage group
    (if it exists), the city triage group and the recovery group.

    Each is checked against the pinned ``settings.key_verifying_key``: an unsigned or wrongly
    signed record raises :class:`KeyRecordRejected`, a version older than the newest this site
    has seen (``pins``) raises :class:`KeyRollback`, a missing city triage or recovery group
    raises :class:`KeysNotInitialised`. Only when all pass are the pins raised.

    This runs for every submission on the public site, so it costs one query: each group with
    its newest key version, read fresh every time (a rotation applies to the very next tip; no
    key is cached). What is remembered per process is only that a given record's signature
    verified (:data:`_VERIFIED`), which saves the Ed25519 checks, never the pin check.
    """
    if not settings.key_verifying_key:
        raise KeyRecordRejected()
    slugs = ([division_slug(division_id)] if division_id is not None else []) + [
        CITY_TRIAGE,
        RECOVERY,
    ]
    session.flush()  # changes pending in this session count, as an ORM query would see them
    rows = session.execute(_NEWEST_KEYS, {"slugs": slugs}).all()
    found = {row.slug: row for row in rows}
    if CITY_TRIAGE not in found or RECOVERY not in found:
        raise KeysNotInitialised()
    recipients = []
    checked = [found[slug] for slug in slugs if slug in found]
    for row in checked:
        if row.version is None:  # a group without any key version
            raise KeyRecordRejected()
        if row.version < pins.minimum(row.slug):
            raise KeyRollback()
        public_key = bytes(row.public_key)
        try:
            rec = signing.KeyRecord(
                row.id, records.group_purpose(row.slug), row.version, public_key
            )
        except CryptoError:  # not a 32-byte key: not a record anyone signed
            raise KeyRecordRejected() from None
        _verify_remembered(settings.key_verifying_key, rec, row.signature)
        recipients.append(Recipient(row.id, row.version, public_key))
    for row in checked:
        pins.observe(row.slug, row.version)
    return recipients
