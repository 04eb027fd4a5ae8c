"""Fixtures of the registry tests: the shipped facility types, a few facilities, users of
every role, and helpers to name divisions and types."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from registry.credit_code import ALPHABET, check_character
from registry.models import Division, Facility, FacilityTypeRecord
from registry.services.editing import create_facility
from registry.services.facility_types import load_default_facility_types
from tests.conftest import build_user


def division_id(dbs: Session, name: str) -> int:
    value = dbs.scalar(select(Division.id).where(Division.name == name))
    assert value is not None, name
    return value


def type_id(dbs: Session, code: str) -> int:
    value = dbs.scalar(select(FacilityTypeRecord.id).where(FacilityTypeRecord.code == code))
    assert value is not None, code
    return value


def facility_named(dbs: Session, name: str) -> Facility:
    return dbs.scalars(select(Facility).where(Facility.name == name)).one()


def credit_code(serial: int, prefix: str = "52320582MJ") -> str:
    """A made-up code with a valid check character (serial in base 31 fills the body)."""
    body = ""
    for _ in range(17 - len(prefix)):
        body = ALPHABET[serial % 31] + body
        serial //= 31
    first17 = prefix + body
    return first17 + check_character(first17)


@pytest.fixture
def types(dbs: Session, clock: FakeClock) -> None:
    load_default_facility_types(dbs, clock, SYSTEM_ACTOR)
    dbs.flush()


@pytest.fixture
def make_facility(dbs: Session, clock: FakeClock, types: None):  # type: ignore[no-untyped-def]
    """Add a facility as the system: ``make_facility("某某养老院", "杨舍镇", beds_total=10)``."""

    def _make(
        name: str, division: str = "杨舍镇", kind: str = "elderly_care_home", **values: Any
    ) -> Facility:
        facility = create_facility(
            dbs,
            clock,
            SYSTEM_ACTOR,
            {"name": name, "division": division, "facility_type": kind, **values},
        )
        dbs.flush()
        return facility

    return _make


@pytest.fixture
def users(dbs: Session, clock: FakeClock) -> dict[str, User]:
    """One user per role and scope: ``<role>`` city-wide, ``<role>@yangshe`` for 杨舍镇."""
    yangshe = division_id(dbs, "杨舍镇")
    made: dict[str, User] = {}
    for role in Role:
        made[role.value] = build_user(dbs, clock, f"{role.value}-city", role)
        made[f"{role.value}@yangshe"] = build_user(
            dbs, clock, f"{role.value}-ys", role, division_id=yangshe
        )
    made["inactive_admin"] = build_user(
        dbs, clock, "inactive-admin", Role.ADMINISTRATOR, active=False
    )
    return made
