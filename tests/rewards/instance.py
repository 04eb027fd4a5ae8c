"""A committed instance for the tests that need real commits (parallel requests, scanning the
stored bytes): a scratch schema on PostgreSQL (``QINGLING_TEST_DATABASE_URL``), dropped
afterwards, or a scratch SQLite file. Everything is set up through the services, each step in
its own unit of work, as requests and CLI commands do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.keys import services as keys
from core.keys.pins import KeyPins
from core.settings import Settings
from intake import services as intake_services
from intake.models import Channel, Relationship, TipCategory, TipState
from registry.models import Division
from registry.services import load_default_divisions
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardKind, RewardState
from tests.conftest import (
    DEFAULT_PASSWORD,
    TEST_DATABASE_URL,
    CommittedDatabase,
    committed_database,
    make_settings,
)
from triage import services as triage
from triage.deadlines import local_date


@dataclass
class Instance:
    settings: Settings
    factory: sessionmaker[Session]
    engine: Engine
    schema: str | None
    clock: FakeClock = field(default_factory=FakeClock)
    recovery: keys.RecoveryAuthority | None = None
    keys_of: dict[str, bytes] = field(default_factory=dict, repr=False)
    ids: dict[str, int] = field(default_factory=dict)
    division: int = 0

    def session(self) -> Session:
        return self.factory()

    def user(self, session: Session, name: str) -> User:
        found = session.get(User, self.ids[name])
        assert found is not None
        return found

    def make_staff(self, name: str, roles: set[Role], group: str | None) -> None:
        assert self.recovery is not None
        with db.unit_of_work(self.factory) as session:
            user = accounts.create_user(
                session,
                self.clock,
                self.settings,
                SYSTEM_ACTOR,
                username=name,
                display_name=name.title(),
                password=DEFAULT_PASSWORD,
                roles=roles,
                division_id=None,
            )
            key = accounts.personal_key_with_password(
                session, self.clock, self.settings, user, password=DEFAULT_PASSWORD
            )
            if group is not None:
                found = keys.find_group(session, group)
                assert found is not None
                keys.grant(session, self.clock, self.settings, self.recovery, found, grantee=user)
            self.ids[name] = user.id
            self.keys_of[name] = key

    def submit(self) -> tuple[uuid.UUID, str]:
        with db.unit_of_work(self.factory) as session:
            recipients = keys.tip_recipients(session, self.settings, self.division, KeyPins(None))
            receipt = intake_services.submit_tip(
                session,
                self.clock,
                self.settings,
                recipients,
                intake_services.TipSubmission(
                    description="养老院配电室堆放大量纸箱，电线裸露。",
                    category=TipCategory.FIRE,
                    division_id=self.division,
                    relationship=Relationship.NEIGHBOUR,
                    channel=Channel.WEB,
                ),
                [],
            )
        return receipt.tip_id, receipt.token.display

    def reward_of(self, tip_id: uuid.UUID) -> Reward:
        with self.factory() as session:
            found = session.scalar(select(Reward).where(Reward.tip_id == tip_id))
            assert found is not None
            return found

    def drive(self, state: RewardState) -> tuple[uuid.UUID, uuid.UUID, str]:
        """A new tip whose reward reaches ``state`` (calculated, approved, offered or claimed),
        each step committed; (tip id, reward id, token)."""
        tip_id, token = self.submit()
        officer = "triage"
        with db.unit_of_work(self.factory) as session:
            args = (session, self.clock, self.settings, self.user(session, officer))
            triage.accept(*args, tip_id)
            triage.start_verification(*args, tip_id)
            triage.conclude(
                *args,
                tip_id,
                personal_key=self.keys_of[officer],
                outcome=TipState.SUBSTANTIATED,
                text="经现场核查属实，已责令整改。",
            )
        reward_id = self.reward_of(tip_id).id
        self.clock.advance(days=11)
        steps = [
            (RewardState.CALCULATED, lambda: self._calculate(reward_id)),
            (RewardState.APPROVED, lambda: self._approve(reward_id)),
            (RewardState.OFFERED, lambda: self._offer(reward_id)),
            (RewardState.CLAIMED, lambda: self.claim(tip_id, token)),
        ]
        for reached, step in steps:
            step()
            assert self.reward_of(tip_id).state is reached
            if reached is state:
                break
        return tip_id, reward_id, token

    def _calculate(self, reward_id: uuid.UUID) -> None:
        with db.unit_of_work(self.factory) as session:
            args = (session, self.clock, self.settings, self.user(session, "officer"))
            rewards.record_penalty_decision(
                *args,
                reward_id,
                decision=rewards.PenaltyDecision(
                    RewardKind.HAZARD,
                    penalties_fen=(3_000_000,),
                    decision_number="张民罚决字〔2026〕88号",
                    decision_date=local_date(self.clock.now()),
                ),
            )
            rewards.calculate(*args, reward_id)

    def _approve(self, reward_id: uuid.UUID) -> None:
        with db.unit_of_work(self.factory) as session:
            rewards.approve(
                session, self.clock, self.settings, self.user(session, "approver"), reward_id
            )

    def _offer(self, reward_id: uuid.UUID) -> None:
        with db.unit_of_work(self.factory) as session:
            rewards.offer(
                session, self.clock, self.settings, self.user(session, "officer"), reward_id
            )

    def claim(
        self, tip_id: uuid.UUID, token: str, details: rewards.ClaimDetails | None = None
    ) -> rewards.ClaimReceipt:
        with db.unit_of_work(self.factory) as session:
            access = intake_services.unlock_with_token(session, self.settings, token)
            return rewards.claim_reward(
                session,
                self.clock,
                self.settings,
                access,
                token_text=token,
                details=details
                or rewards.ClaimDetails(
                    PaymentMethod.BANK_TRANSFER,
                    account_name="李四",
                    bank="中国农业银行",
                    account_number="6228480402564890018",
                ),
                pins=KeyPins(None),
            )


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[Instance]:
    base = make_settings(tmp_path, TEST_DATABASE_URL)
    with committed_database(base, tmp_path, "rewards", pool_size=10) as database:
        yield _instance(database)


def _instance(database: CommittedDatabase) -> Instance:
    inst = Instance(
        database.settings,
        db.make_session_factory(database.engine),
        database.engine,
        database.schema,
    )
    with db.unit_of_work(inst.factory) as session:
        load_default_divisions(session, inst.clock, SYSTEM_ACTOR)
        intake_services.initialise_token_params(session, inst.clock, calibrate=False)
        sheet, _ = keys.init_recovery(session, inst.clock, inst.settings, SYSTEM_ACTOR)
        division = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
        assert division is not None
        inst.division = division
    inst.recovery = keys.RecoveryAuthority(sheet.private_key)
    inst.make_staff("triage", {Role.TRIAGE_OFFICER}, keys.CITY_TRIAGE)
    inst.make_staff("officer", {Role.FINANCE_OFFICER}, keys.FINANCE)
    inst.make_staff("officer2", {Role.FINANCE_OFFICER}, keys.FINANCE)
    inst.make_staff("approver", {Role.FINANCE_APPROVER}, keys.FINANCE)
    inst.make_staff("approver2", {Role.FINANCE_APPROVER}, keys.FINANCE)
    return inst
