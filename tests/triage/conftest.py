"""Fixtures for the triage and cases tests: key groups initialised, staff of every role made on
demand (with their personal keys and, for triage officers, the grant of their key group), and
tips submitted through intake and driven to any state through the services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.standards.services import load_shipped_standards
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.keys import services as keys
from core.keys.pins import KeyPins
from core.settings import Settings
from intake import services as intake_services
from intake.access import ReporterAccess
from intake.models import Channel, NotAcceptedReason, Relationship, Tip, TipCategory, TipState
from registry.models import Division
from tests.conftest import DEFAULT_PASSWORD
from triage import services as triage
from triage.models import TipTransition
from triage.services.common import tip_keys


@dataclass(frozen=True)
class Staff:
    user: User
    key: bytes = field(repr=False)


#: name → (roles, division: "own" | "other" | None for city scope, key group to grant or None)
PEOPLE: dict[str, tuple[tuple[Role, ...], str | None, str | None]] = {
    "triage_own": ((Role.TRIAGE_OFFICER,), "own", "division"),
    "triage_other": ((Role.TRIAGE_OFFICER,), "other", "division"),
    "triage_city": ((Role.TRIAGE_OFFICER,), None, "city"),
    "supervisor": ((Role.SUPERVISOR,), None, None),
    "case_officer": ((Role.CASE_OFFICER,), "own", None),
    "finance_officer": ((Role.FINANCE_OFFICER,), None, None),
    "finance_approver": ((Role.FINANCE_APPROVER,), None, None),
    "administrator": ((Role.ADMINISTRATOR,), None, None),
    "auditor": ((Role.AUDITOR,), None, None),
    # A triage officer of the division with no key granted yet.
    "triage_keyless": ((Role.TRIAGE_OFFICER,), "own", None),
}

CONCLUSION = "经核查，二楼消防通道确被杂物占用，已责令当场清理。"


@dataclass
class World:
    dbs: Session
    clock: FakeClock
    settings: Settings
    make_user: Any
    recovery: keys.RecoveryAuthority
    own: int
    other: int
    _staff: dict[str, Staff] = field(default_factory=dict)

    # ------------------------------------------------------------ people

    def staff(self, name: str) -> Staff:
        if name not in self._staff:
            roles, division, group = PEOPLE[name]
            division_id = {"own": self.own, "other": self.other, None: None}[division]
            user = self.make_user(name.replace("_", "-"), *roles, division_id=division_id)
            key = accounts.personal_key_with_password(
                self.dbs, self.clock, self.settings, user, password=DEFAULT_PASSWORD
            )
            if group is not None:
                slug = (
                    keys.CITY_TRIAGE if group == "city" else keys.division_slug(division_id)  # type: ignore[arg-type]
                )
                found = keys.find_group(self.dbs, slug)
                assert found is not None
                keys.grant(self.dbs, self.clock, self.settings, self.recovery, found, grantee=user)
            self._staff[name] = Staff(user, key)
        return self._staff[name]

    @property
    def city(self) -> Staff:
        return self.staff("triage_city")

    # ------------------------------------------------------------ tips

    def submit(self, division: int | None = None, **changes: Any) -> uuid.UUID:
        division_id = self.own if division is None else division
        values: dict[str, Any] = {
            "description": "养老院二楼的消防通道被杂物堵死，夜间只有一名护工值班。",
            "category": TipCategory.FIRE,
            "division_id": division_id,
            "location": "杨舍镇某路 12 号，后门",
            "facility_name": "夕阳红托老所",
            "observed_when": "上周三晚上九点左右",
            "relationship": Relationship.EMPLOYEE,
            "contact": "微信 abc123",
            "real_name": "王小明",
            "channel": Channel.WEB,
        }
        values.update(changes)
        recipients = keys.tip_recipients(self.dbs, self.settings, division_id, KeyPins(None))
        receipt = intake_services.submit_tip(
            self.dbs,
            self.clock,
            self.settings,
            recipients,
            intake_services.TipSubmission(**values),
            [],
        )
        return receipt.tip_id

    def tip(self, tip_id: uuid.UUID) -> Tip:
        tip = self.dbs.get(Tip, tip_id)
        assert tip is not None
        self.dbs.refresh(tip)
        return tip

    def access(self, tip_id: uuid.UUID) -> ReporterAccess:
        """What the public site holds for the reporter (the data key, opened here through the
        city officer's grant: the token path is intake's business and tested there)."""
        city = self.city
        opened = tip_keys(self.dbs, city.user, city.key, self.tip(tip_id))
        return ReporterAccess(tip_id, opened.data_key)

    def args(self, staff: Staff | None = None) -> tuple[Session, FakeClock, Settings, User]:
        who = staff or self.city
        return self.dbs, self.clock, self.settings, who.user

    def drive(self, tip_id: uuid.UUID, state: TipState, by: Staff | None = None) -> None:
        """Take a submitted tip to ``state`` through the services (``by`` the city officer)."""
        who = by or self.city
        a = self.args(who)
        s = TipState
        if state is s.SUBMITTED:
            return
        if state is s.NOT_ACCEPTED:
            triage.not_accept(
                *a,
                tip_id,
                personal_key=who.key,
                reason=NotAcceptedReason.OUTSIDE_REMIT,
                text="不属于民政部门职责。",
            )
        elif state is s.TRANSFERRED:
            triage.transfer(
                *a, tip_id, personal_key=who.key, regulator="市场监管局", note="已转交。"
            )
        elif state is s.DUPLICATE:
            original = self.submit()
            triage.accept(*a, original)
            triage.mark_duplicate(*a, tip_id, original_id=original)
        elif state is s.CLOSED:
            self.drive(tip_id, s.NOT_ACCEPTED, by)
            self.clock.advance(days=11)
            triage.close(*a, tip_id)
        else:
            triage.accept(*a, tip_id)
            if state is s.ACCEPTED:
                return
            triage.start_verification(*a, tip_id)
            if state is s.VERIFYING:
                return
            outcome = state if state in _OUTCOMES else s.SUBSTANTIATED
            triage.conclude(*a, tip_id, personal_key=who.key, outcome=outcome, text=CONCLUSION)
            if state in _OUTCOMES:
                return
            triage.reporter_object(
                self.dbs, self.clock, self.settings, self.access(tip_id), "结论与事实不符。"
            )
            if state is s.RECHECKING:
                return
            triage.conclude_recheck(
                *a, tip_id, personal_key=who.key, outcome=s.SUBSTANTIATED, text="复核维持原结论。"
            )
        assert self.tip(tip_id).state is state

    # ------------------------------------------------------------ looking

    def history(self, tip_id: uuid.UUID) -> list[TipTransition]:
        return list(
            self.dbs.scalars(
                select(TipTransition)
                .where(TipTransition.tip_id == tip_id)
                .order_by(TipTransition.seq)
            )
        )

    def audit(self, tip_id: uuid.UUID | None = None) -> list[AuditRecord]:
        query = select(AuditRecord).order_by(AuditRecord.seq)
        if tip_id is not None:
            query = query.where(AuditRecord.object_id == str(tip_id))
        return list(self.dbs.scalars(query))

    def audit_count(self) -> int:
        return int(self.dbs.scalar(select(func.count()).select_from(AuditRecord)) or 0)


_OUTCOMES = (TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED, TipState.UNSUBSTANTIATED)


def division_ids(dbs: Session) -> tuple[int, int]:
    own = dbs.scalar(select(Division.id).where(Division.name == "杨舍镇"))
    other = dbs.scalar(select(Division.id).where(Division.name == "塘桥镇"))
    assert own is not None
    assert other is not None
    return own, other


@pytest.fixture
def world(dbs: Session, clock: FakeClock, settings: Settings, make_user: Any) -> World:
    sheet, _ = keys.init_recovery(dbs, clock, settings, SYSTEM_ACTOR)
    intake_services.initialise_token_params(dbs, clock, calibrate=False)
    load_shipped_standards(dbs, clock)  # cases refer to items of the catalogue
    dbs.flush()
    own, other = division_ids(dbs)
    return World(
        dbs, clock, settings, make_user, keys.RecoveryAuthority(sheet.private_key), own, other
    )


def at(clock: FakeClock, when: dt.datetime) -> None:
    """Set the fake clock to ``when``."""
    clock.advance(seconds=(when - clock.now()).total_seconds())
