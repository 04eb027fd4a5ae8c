"""The cases tests use the triage tests' world (key groups, staff, tips driven to a state), the
shipped judgment-standard catalogue, the demo facilities, and a :class:`CaseWorld` that makes
case staff on demand and drives a case to any state through the services."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import services as cases
from cases.models import CaseSource, CaseState, HazardCase
from cases.services.common import today
from cases.standards.services import load_shipped_standards
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.settings import Settings
from intake.models import TipCategory
from registry.models import Facility
from registry.services import load_demo_facilities
from tests.triage.conftest import World, world

__all__ = ["CaseWorld", "case_world", "world"]

#: Catalogue codes the tests select (shipped data: 民政部 2023 standard and GB 35181-2017).
ITEM = "民政部办公厅 2023-11-27/4(1)"
OTHER_ITEM = "GB 35181-2017/7.3.1"

#: name → (roles, division: "own" | "other" | None for city scope)
CASE_PEOPLE: dict[str, tuple[tuple[Role, ...], str | None]] = {
    "officer": ((Role.CASE_OFFICER,), "own"),
    "officer2": ((Role.CASE_OFFICER,), "own"),
    "officer_other": ((Role.CASE_OFFICER,), "other"),
    "officer_city": ((Role.CASE_OFFICER,), None),
    "triage_own": ((Role.TRIAGE_OFFICER,), "own"),
    "triage_other": ((Role.TRIAGE_OFFICER,), "other"),
    "triage_city": ((Role.TRIAGE_OFFICER,), None),
    "supervisor": ((Role.SUPERVISOR,), None),
    "supervisor_div": ((Role.SUPERVISOR,), "other"),
    "finance_officer": ((Role.FINANCE_OFFICER,), None),
    "finance_approver": ((Role.FINANCE_APPROVER,), "other"),
    "administrator": ((Role.ADMINISTRATOR,), None),
    "auditor": ((Role.AUDITOR,), None),
}


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG photo carrying EXIF with a GPS position and a camera model."""
    image = Image.new("RGB", (16, 16), (10, 120, 10))
    exif = Image.Exif()
    exif[0x0110] = "Officer Phone X"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 52.0, 30.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(data: bytes | None = None, name: str = "现场照片.png") -> cases.Upload:
    return cases.Upload(name, io.BytesIO(png_bytes() if data is None else data))


@dataclass
class CaseWorld:
    w: World
    facility_own: int
    facility_other: int
    _users: dict[str, User] = field(default_factory=dict)

    @property
    def dbs(self) -> Session:
        return self.w.dbs

    @property
    def clock(self) -> FakeClock:
        return self.w.clock

    @property
    def settings(self) -> Settings:
        return self.w.settings

    @property
    def today(self) -> dt.date:
        return today(self.clock)

    def user(self, name: str) -> User:
        if name not in self._users:
            roles, division = CASE_PEOPLE[name]
            division_id = {"own": self.w.own, "other": self.w.other, None: None}[division]
            self._users[name] = self.w.make_user(
                "c-" + name.replace("_", "-"), *roles, division_id=division_id
            )
        return self._users[name]

    def args(self, name: str = "officer") -> tuple[Session, FakeClock, Settings, User]:
        return self.dbs, self.clock, self.settings, self.user(name)

    def new_case(self, **changes: Any) -> cases.NewCase:
        values: dict[str, Any] = {
            "source": CaseSource.INSPECTION,
            "division_id": self.w.own,
            "facility_id": self.facility_own,
            "category": TipCategory.ELDERLY_CARE_SAFETY,
            "discovered_on": self.today - dt.timedelta(days=2),
            "standard_items": [ITEM],
            "description": "二楼东侧疏散通道堆放杂物，防火门常闭失效。",
        }
        values.update(changes)
        return cases.NewCase(**values)

    def open(self, by: str = "officer", **changes: Any) -> uuid.UUID:
        return cases.open_case(*self.args(by), self.new_case(**changes))

    def plan(self, case_id: uuid.UUID, by: str = "officer", days: int = 30) -> int:
        return cases.submit_plan(
            *self.args(by),
            case_id,
            plan=cases.PlanData(
                responsibility="院长张某负责，后勤组实施。",
                measures="清理通道杂物，更换防火门闭门器。",
                funds_fen=1_250_000,
                deadline=self.today + dt.timedelta(days=days),
                contingency_plan="整改期间安排专人值守，夜间增加巡查。",
            ),
        )

    def drive(self, case_id: uuid.UUID, state: CaseState) -> None:
        """Take an open case to ``state``: plan and submission by ``officer``, acceptance by
        ``officer2``, re-check by ``officer``."""
        order = list(CaseState)
        reached = self.case(case_id).state
        if order.index(state) <= order.index(reached):
            return
        if reached is CaseState.OPEN:
            self.plan(case_id)
        if state is CaseState.RECTIFYING:
            return
        if self.case(case_id).state is CaseState.RECTIFYING:
            cases.submit_for_acceptance(
                *self.args(), case_id, note="通道已清理，闭门器已更换。", files=[upload()]
            )
        if state is CaseState.AWAITING_ACCEPTANCE:
            return
        if self.case(case_id).state is CaseState.AWAITING_ACCEPTANCE:
            cases.accept(*self.args("officer2"), case_id, note="现场验收合格。", files=[upload()])
        if state is CaseState.CLOSED:
            return
        cases.recheck_ok(*self.args(), case_id, note="回头看未见反弹。")
        assert self.case(case_id).state is state

    def case(self, case_id: uuid.UUID) -> HazardCase:
        case = self.dbs.get(HazardCase, case_id)
        assert case is not None
        self.dbs.refresh(case)
        return case


@pytest.fixture
def case_world(world: World) -> CaseWorld:
    load_shipped_standards(world.dbs, world.clock)
    load_demo_facilities(world.dbs, world.clock, SYSTEM_ACTOR)
    own = world.dbs.scalar(select(Facility.id).where(Facility.name == "夕阳红托老所"))
    other = world.dbs.scalar(select(Facility.id).where(Facility.name == "塘桥镇敬老院"))
    assert own is not None
    assert other is not None
    return CaseWorld(world, own, other)
