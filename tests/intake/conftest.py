"""Fixtures for the intake tests: key groups made on the spot (no key-group tables needed),
cheap token parameters, and a valid submission."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import FakeClock
from core.keys.types import Recipient
from core.settings import Settings
from crypto.envelope import generate_keypair
from crypto.tokens import TokenParams
from intake import services
from intake.models import Channel, Relationship, TipCategory
from registry.models import Division


@dataclass(frozen=True)
class Group:
    """A key group version: what intake seals to, and the private key that opens it."""

    recipient: Recipient
    private_key: bytes = field(repr=False)

    @property
    def credentials(self) -> tuple[int, int, bytes]:
        return self.recipient.group_id, self.recipient.version, self.private_key


def make_group(group_id: int, version: int = 1) -> Group:
    pair = generate_keypair()
    return Group(Recipient(group_id, version, pair.public_key), pair.private_key)


@pytest.fixture
def groups() -> list[Group]:
    """Division triage, city triage and recovery groups."""
    return [make_group(11), make_group(12), make_group(13, version=2)]


@pytest.fixture
def recipients(groups: list[Group]) -> list[Recipient]:
    return [g.recipient for g in groups]


@pytest.fixture
def token_params(dbs: Session, clock: FakeClock) -> TokenParams:
    return services.initialise_token_params(dbs, clock, calibrate=False)


@pytest.fixture
def division_id(dbs: Session) -> int:
    found = dbs.scalar(select(Division.id).order_by(Division.id).limit(1))
    assert found is not None
    return found


def make_submission(division: int, **changes: object) -> services.TipSubmission:
    values: dict[str, object] = {
        "description": "养老院二楼的消防通道被杂物堵死，夜间只有一名护工值班。",
        "category": TipCategory.FIRE,
        "division_id": division,
        "location": "杨舍镇某路 12 号，后门",
        "facility_name": "夕阳红托老所",
        "observed_when": "上周三晚上九点左右",
        "relationship": Relationship.EMPLOYEE,
        "contact": "微信 abc123",
        "real_name": "",
        "channel": Channel.WEB,
    }
    values.update(changes)
    return services.TipSubmission(**values)  # type: ignore[arg-type]


@dataclass
class Intake:
    """Everything a service test needs, in one fixture."""

    dbs: Session
    clock: FakeClock
    settings: Settings
    groups: list[Group]
    division_id: int

    def parts(self) -> tuple[Session, FakeClock, Settings, list[Group], int]:
        return self.dbs, self.clock, self.settings, self.groups, self.division_id

    def submit(
        self, attachments: list[services.AttachmentInput] | None = None, **changes: object
    ) -> services.Receipt:
        return services.submit_tip(
            self.dbs,
            self.clock,
            self.settings,
            [g.recipient for g in self.groups],
            make_submission(self.division_id, **changes),
            attachments or [],
        )


@pytest.fixture
def intake(
    dbs: Session, clock: FakeClock, settings: Settings, groups: list[Group], division_id: int
) -> Intake:
    """The services' collaborators, before ``qingling init`` made the token parameters."""
    return Intake(dbs, clock, settings, groups, division_id)


@pytest.fixture
def ready(intake: Intake, token_params: TokenParams) -> Intake:
    """:func:`intake` after the token parameters exist."""
    return intake


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` as an upload stream delivers it: pieces of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
