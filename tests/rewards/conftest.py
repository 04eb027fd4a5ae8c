"""Fixtures for the reward lifecycle tests: the triage tests' world (key groups, staff, tips
driven through the services) plus finance staff holding the finance key group, tips whose
tokens are kept, and rewards driven to any state through the services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from core.accounts import services as accounts
from core.accounts.models import Role
from core.keys import services as keys
from core.keys.pins import KeyPins
from intake import services as intake_services
from intake.access import ReporterAccess
from intake.models import Channel, Relationship, TipCategory, TipState
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardKind, RewardState
from tests.conftest import DEFAULT_PASSWORD
from tests.triage.conftest import CONCLUSION, Staff, World, world
from triage import services as triage
from triage.deadlines import local_date

__all__ = ["world"]

#: name → (roles, division: "own" | "other" | None for city scope, granted the finance group)
FINANCE_PEOPLE: dict[str, tuple[tuple[Role, ...], str | None, bool]] = {
    "officer": ((Role.FINANCE_OFFICER,), None, True),
    "officer2": ((Role.FINANCE_OFFICER,), None, True),
    "approver": ((Role.FINANCE_APPROVER,), None, True),
    "approver2": ((Role.FINANCE_APPROVER,), None, True),
    "both": ((Role.FINANCE_OFFICER, Role.FINANCE_APPROVER), None, True),
    "officer_keyless": ((Role.FINANCE_OFFICER,), None, False),
    "officer_other": ((Role.FINANCE_OFFICER,), "other", True),
}

BANK = rewards.ClaimDetails(
    PaymentMethod.BANK_TRANSFER,
    account_name="张三",
    bank="中国工商银行张家港支行",
    account_number="6222 0211 0203 4567 890",
)
FINE_FEN = 2_000_000  # ¥20,000: 15 % is ¥3,000, the national minimum


@dataclass
class RewardWorld:
    w: World
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)
    _finance: dict[str, Staff] = field(default_factory=dict)

    # ------------------------------------------------------------ people

    def finance(self, name: str) -> Staff:
        if name not in self._finance:
            roles, division, granted = FINANCE_PEOPLE[name]
            division_id = {"own": self.w.own, "other": self.w.other, None: None}[division]
            user = self.w.make_user(f"fin-{name}", *roles, division_id=division_id)
            key = accounts.personal_key_with_password(
                self.w.dbs, self.w.clock, self.w.settings, user, password=DEFAULT_PASSWORD
            )
            if granted:
                group = keys.find_group(self.w.dbs, keys.FINANCE)
                assert group is not None
                keys.grant(
                    self.w.dbs, self.w.clock, self.w.settings, self.w.recovery, group, grantee=user
                )
            self._finance[name] = Staff(user, key)
        return self._finance[name]

    def args(self, name: str) -> tuple[Any, ...]:
        return (self.w.dbs, self.w.clock, self.w.settings, self.finance(name).user)

    # ------------------------------------------------------------ tips

    def submit(self, division: int | None = None) -> uuid.UUID:
        division_id = self.w.own if division is None else division
        recipients = keys.tip_recipients(self.w.dbs, self.w.settings, division_id, KeyPins(None))
        receipt = intake_services.submit_tip(
            self.w.dbs,
            self.w.clock,
            self.w.settings,
            recipients,
            intake_services.TipSubmission(
                description="敬老院厨房燃气管道老化漏气，已闻到明显气味。",
                category=TipCategory.GAS,
                division_id=division_id,
                relationship=Relationship.EMPLOYEE,
                channel=Channel.WEB,
            ),
            [],
        )
        self.tokens[receipt.tip_id] = receipt.token.display
        return receipt.tip_id

    def access(self, tip_id: uuid.UUID) -> ReporterAccess:
        return intake_services.unlock_with_token(self.w.dbs, self.w.settings, self.tokens[tip_id])

    def concluded(
        self, outcome: TipState = TipState.SUBSTANTIATED, division: int | None = None
    ) -> uuid.UUID:
        tip_id = self.submit(division)
        self.w.drive(tip_id, outcome)
        return tip_id

    def reward(self, tip_id: uuid.UUID) -> Reward:
        found = self.w.dbs.scalar(select(Reward).where(Reward.tip_id == tip_id))
        assert found is not None
        self.w.dbs.refresh(found)
        return found

    # ------------------------------------------------------------ steps

    def today(self) -> dt.date:
        return local_date(self.w.clock.now())

    def record_decision(self, reward_id: uuid.UUID, fines: tuple[int, ...] = (FINE_FEN,)) -> None:
        rewards.record_penalty_decision(
            *self.args("officer"),
            reward_id,
            decision=rewards.PenaltyDecision(
                RewardKind.HAZARD,
                penalties_fen=fines,
                decision_number="张民罚决字〔2026〕12号",
                decision_date=self.today(),
            ),
        )

    def calculate(self, reward_id: uuid.UUID, **kwargs: Any) -> None:
        rewards.calculate(*self.args("officer"), reward_id, **kwargs)

    def approve(self, reward_id: uuid.UUID, by: str = "approver") -> None:
        rewards.approve(*self.args(by), reward_id)

    def offer(self, reward_id: uuid.UUID) -> None:
        rewards.offer(*self.args("officer"), reward_id)

    def claim(
        self, tip_id: uuid.UUID, details: rewards.ClaimDetails = BANK
    ) -> rewards.ClaimReceipt:
        return rewards.claim_reward(
            self.w.dbs,
            self.w.clock,
            self.w.settings,
            self.access(tip_id),
            token_text=self.tokens[tip_id],
            details=details,
            pins=KeyPins(None),
        )

    def pay(
        self, reward_id: uuid.UUID, voucher: str = "记-2026-0001", code: str | None = None
    ) -> None:
        reward = self.w.dbs.get(Reward, reward_id)
        assert reward is not None
        rewards.record_payment(
            *self.args("officer"),
            reward_id,
            payment=rewards.Payment(voucher, self.today(), reward.amount_fen or 0, code),
        )

    def to_state(self, state: RewardState) -> tuple[uuid.UUID, uuid.UUID]:
        """A new tip whose reward is in ``state`` (through the services); (tip id, reward id)."""
        if state is RewardState.NOT_ELIGIBLE:
            tip_id = self.concluded()
            reward = self.reward(tip_id)
            self.record_decision(reward.id)
            self.calculate(reward.id, exclusions=["media_exposed"])
            assert self.reward(tip_id).state is RewardState.NOT_ELIGIBLE
            return tip_id, reward.id
        tip_id = self.concluded()
        reward_id = self.reward(tip_id).id
        steps = [
            (
                RewardState.CALCULATED,
                lambda: (self.record_decision(reward_id), self.calculate(reward_id)),
            ),
            (RewardState.APPROVED, lambda: self.approve(reward_id)),
            (RewardState.OFFERED, lambda: (self.w.clock.advance(days=11), self.offer(reward_id))),
            (RewardState.CLAIMED, lambda: self.claim(tip_id)),
            (RewardState.PAID, lambda: self.pay(reward_id, voucher=f"记-{reward_id.hex[:8]}")),
        ]
        ends = {
            RewardState.EXPIRED: RewardState.OFFERED,
            RewardState.DECLINED: RewardState.OFFERED,
        }
        goal = ends.get(state, state)
        for reached, step in steps:
            if self.reward(tip_id).state is goal:
                break
            step()
            assert self.reward(tip_id).state is reached
        if state is RewardState.EXPIRED:
            from rewards.jobs import expire_offers

            self.w.clock.advance(days=self.w.settings.reward_claim_days + 1)
            assert reward_id in expire_offers(self.w.dbs, self.w.clock)
        elif state is RewardState.DECLINED:
            rewards.decline_reward(
                self.w.dbs,
                self.w.clock,
                self.w.settings,
                self.access(tip_id),
                token_text=self.tokens[tip_id],
            )
        assert self.reward(tip_id).state is state
        return tip_id, reward_id


@pytest.fixture
def rw(world: World) -> RewardWorld:
    return RewardWorld(world)


__all__ += ["CONCLUSION", "RewardWorld", "triage"]
