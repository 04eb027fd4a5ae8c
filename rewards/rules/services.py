"""Reward rule sets: the shipped ones, the versions administrators add, and which is in force.

Which version is in force on a day: within a series, the version (not withdrawn) with the
latest ``effective_from`` on or before that day; if that version's ``effective_until`` has
passed, *no* version of the series is in force (a newer version replaces the older one even
when it later lapses). Days are calendar days in Asia/Shanghai.

The shipped rule sets (``rewards/rules/data/*.json``) need no database:
``rule_set_in_force(None, day)`` works on an instance that was never initialised, which is how
``qingling rewards quote`` answers before ``qingling init``. With a session, the versions an
administrator added are considered too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts.access import require_role
from core.accounts.models import Role, User
from core.audit.services import actor_of, record
from core.clock import SHANGHAI, Clock
from core.errors import Forbidden
from rewards.rules.errors import (
    NoRuleSetInForce,
    RuleSetDateTaken,
    RuleSetExists,
    RuleSetNotFound,
    RuleSetNotInForce,
    RuleSetNotWithdrawable,
)
from rewards.rules.models import RuleSetRecord
from rewards.rules.rule_sets import RuleSet, parse_rule_set

#: The series used when no rule set is named: the national measure.
DEFAULT_SERIES = "national"

#: Who may read the rule sets (finance calculates under them, supervisors read rewards).
READ_ROLES = (Role.ADMINISTRATOR, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.SUPERVISOR)

Origin = Literal["shipped", "admin"]
Status = Literal["in_force", "future", "superseded", "expired", "withdrawn"]


@dataclass(frozen=True)
class RuleSetVersion:
    """A rule set with where it came from and, for an added one, who added or withdrew it."""

    rule_set: RuleSet
    origin: Origin
    created_at: dt.datetime | None = None
    created_by_id: int | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_by_id: int | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


@dataclass(frozen=True)
class RuleSetView:
    """A version as the staff pages list it, with its status on the day asked about."""

    version: RuleSetVersion
    status: Status

    @property
    def rule_set(self) -> RuleSet:
        return self.version.rule_set


def local_today(clock: Clock) -> dt.date:
    return clock.now().astimezone(SHANGHAI).date()


# ---------------------------------------------------------------- loading


@cache
def shipped_rule_sets() -> tuple[RuleSet, ...]:
    """The rule sets shipped in ``rewards/rules/data/*.json``, validated (a broken file is a
    programming error and fails loudly)."""
    folder = resources.files("rewards.rules").joinpath("data")
    entries = sorted(folder.iterdir(), key=lambda e: e.name)
    return tuple(parse_rule_set(e.read_text("utf-8")) for e in entries if e.name.endswith(".json"))


def _from_record(row: RuleSetRecord) -> RuleSetVersion:
    return RuleSetVersion(
        rule_set=parse_rule_set(row.body),
        origin="admin",
        created_at=row.created_at,
        created_by_id=row.created_by_id,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by_id=row.withdrawn_by_id,
    )


def all_versions(session: Session | None) -> list[RuleSetVersion]:
    """Every version, shipped first, then the added ones (withdrawn included), by series and
    date."""
    versions = [RuleSetVersion(rs, "shipped") for rs in shipped_rule_sets()]
    if session is not None:
        rows = session.scalars(select(RuleSetRecord).order_by(RuleSetRecord.id)).all()
        versions.extend(_from_record(row) for row in rows)
    versions.sort(key=lambda v: (v.rule_set.series, v.rule_set.effective_from, v.rule_set.id))
    return versions


def _pick(versions: Iterable[RuleSetVersion], series: str, day: dt.date) -> RuleSetVersion | None:
    """The version of ``series`` in force on ``day`` (see the module docstring), or None."""
    started = [
        v
        for v in versions
        if v.rule_set.series == series and not v.withdrawn and v.rule_set.effective_from <= day
    ]
    if not started:
        return None
    latest = max(started, key=lambda v: v.rule_set.effective_from)
    until = latest.rule_set.effective_until
    return latest if until is None or day <= until else None


# ---------------------------------------------------------------- in force


def rule_set_in_force(
    session: Session | None, on: dt.date, rule_set_id: str | None = None
) -> RuleSet:
    """The rule set to calculate with on day ``on``.

    ``rule_set_id`` may name a version (``national-2018``: it must be the one in force on
    ``on``) or a series (``national``: its version in force on ``on``); ``None`` means the
    national series. ``session=None`` considers only the shipped rule sets.

    Raises :class:`RuleSetNotFound`, :class:`RuleSetNotInForce` or :class:`NoRuleSetInForce`.
    """
    versions = all_versions(session)
    wanted = DEFAULT_SERIES if rule_set_id is None else rule_set_id
    by_id = next((v for v in versions if v.rule_set.id == wanted), None)
    if by_id is not None:
        picked = _pick(versions, by_id.rule_set.series, on)
        if picked is None or picked.rule_set.id != by_id.rule_set.id:
            raise RuleSetNotInForce(rule_set=wanted, date=on.isoformat())
        return picked.rule_set
    if not any(v.rule_set.series == wanted for v in versions):
        raise RuleSetNotFound(rule_set=wanted)
    picked = _pick(versions, wanted, on)
    if picked is None:
        raise NoRuleSetInForce(rule_set=wanted, date=on.isoformat())
    return picked.rule_set


def get_rule_set(session: Session | None, rule_set_id: str) -> RuleSet:
    """A version by its id, whatever its dates (e.g. to show the rule set a stored
    calculation names). Raises :class:`RuleSetNotFound`."""
    return _version(session, rule_set_id).rule_set


def _version(session: Session | None, rule_set_id: str) -> RuleSetVersion:
    for version in all_versions(session):
        if version.rule_set.id == rule_set_id:
            return version
    raise RuleSetNotFound(rule_set=rule_set_id)


# ---------------------------------------------------------------- staff views


def _status(version: RuleSetVersion, versions: list[RuleSetVersion], today: dt.date) -> Status:
    rs = version.rule_set
    if version.withdrawn:
        return "withdrawn"
    if rs.effective_from > today:
        return "future"
    picked = _pick(versions, rs.series, today)
    if picked is not None and picked.rule_set.id == rs.id:
        return "in_force"
    later = any(
        v.rule_set.series == rs.series
        and not v.withdrawn
        and rs.effective_from < v.rule_set.effective_from <= today
        for v in versions
    )
    return "superseded" if later else "expired"


def list_rule_sets(session: Session, actor: User, today: dt.date) -> list[RuleSetView]:
    """Every version with its status on ``today`` (administrators, finance, supervisors)."""
    require_role(actor, *READ_ROLES)
    versions = all_versions(session)
    return [RuleSetView(v, _status(v, versions, today)) for v in versions]


def view_rule_set(session: Session, actor: User, rule_set_id: str, today: dt.date) -> RuleSetView:
    """One version with its status on ``today``. Raises :class:`RuleSetNotFound`."""
    require_role(actor, *READ_ROLES)
    versions = all_versions(session)
    version = next((v for v in versions if v.rule_set.id == rule_set_id), None)
    if version is None:
        raise RuleSetNotFound(rule_set=rule_set_id)
    return RuleSetView(version, _status(version, versions, today))


# ---------------------------------------------------------------- changes


def _require_editor(actor: User) -> None:
    """Rule sets apply to the whole deployment: city-scope administrators only."""
    require_role(actor, Role.ADMINISTRATOR)
    if not actor.is_city_scope:
        raise Forbidden()


def add_rule_set(session: Session, clock: Clock, actor: User, document: str) -> RuleSet:
    """Validate a rule set document (JSON text) and add it as a new version; records
    ``reward_rule_set.added``.

    Raises :class:`RuleSetInvalid` (every problem, with its path), :class:`RuleSetExists` when
    the id is taken (by any version, withdrawn ones too, or by a series name) or the series
    name is another version's id, and :class:`RuleSetDateTaken` when the series already has a
    version starting the same day.
    """
    _require_editor(actor)
    rule_set = parse_rule_set(document)
    versions = all_versions(session)
    for version in versions:
        other = version.rule_set
        if rule_set.id in (other.id, other.series) or rule_set.series == other.id:
            raise RuleSetExists(
                rule_set=rule_set.id if rule_set.id in (other.id, other.series) else rule_set.series
            )
        if (
            other.series == rule_set.series
            and not version.withdrawn
            and other.effective_from == rule_set.effective_from
        ):
            raise RuleSetDateTaken(
                series=rule_set.series,
                date=rule_set.effective_from.isoformat(),
                rule_set=other.id,
            )
    digest = hashlib.sha256(rule_set.body.encode("utf-8")).hexdigest()
    row = RuleSetRecord(
        id=rule_set.id,
        series=rule_set.series,
        effective_from=rule_set.effective_from,
        effective_until=rule_set.effective_until,
        body=rule_set.body,
        body_sha256=digest,
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    try:
        # Flushed in a savepoint so that the same id (or series and day) added at the same
        # moment by another administrator becomes a conflict, not a server error.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        taken = session.scalar(
            select(RuleSetRecord.id).where(
                RuleSetRecord.series == rule_set.series,
                RuleSetRecord.effective_from == rule_set.effective_from,
                RuleSetRecord.withdrawn_at.is_(None),
                RuleSetRecord.id != rule_set.id,
            )
        )
        if taken is None:
            raise RuleSetExists(rule_set=rule_set.id) from None
        raise RuleSetDateTaken(
            series=rule_set.series, date=rule_set.effective_from.isoformat(), rule_set=taken
        ) from None
    record(
        session,
        clock,
        actor_of(actor),
        "reward_rule_set.added",
        "reward_rule_set",
        rule_set.id,
        {
            "series": rule_set.series,
            "effective_from": rule_set.effective_from.isoformat(),
            "effective_until": (
                rule_set.effective_until.isoformat() if rule_set.effective_until else None
            ),
            "body_sha256": digest,
        },
    )
    return rule_set


def withdraw_rule_set(session: Session, clock: Clock, actor: User, rule_set_id: str) -> None:
    """Withdraw a version an administrator added that is not yet in force (a mistake caught
    in time); records ``reward_rule_set.withdrawn``. A version that has come into force may
    have been used by a calculation and stays."""
    _require_editor(actor)
    row = session.get(RuleSetRecord, rule_set_id, with_for_update=True)
    if row is None:
        if any(rs.id == rule_set_id for rs in shipped_rule_sets()):
            raise RuleSetNotWithdrawable()
        raise RuleSetNotFound(rule_set=rule_set_id)
    if row.withdrawn_at is not None or row.effective_from <= local_today(clock):
        raise RuleSetNotWithdrawable()
    row.withdrawn_at = clock.now()
    row.withdrawn_by_id = actor.id
    record(
        session,
        clock,
        actor_of(actor),
        "reward_rule_set.withdrawn",
        "reward_rule_set",
        rule_set_id,
        {"series": row.series, "effective_from": row.effective_from.isoformat()},
    )
