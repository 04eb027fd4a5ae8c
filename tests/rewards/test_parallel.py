"""No double effects (issue 7): two approvals, two payments or two claims of the same reward
arriving at once produce exactly one, on PostgreSQL with a thread and a session each (the
suite's rolled-back connection cannot be shared by threads, so the instance here commits for
real into a scratch schema; see ``tests/rewards/instance.py``).

Each service takes the reward's row lock (``SELECT … FOR UPDATE``) before it checks the state;
the second transaction waits for the first to commit, then sees the state it left and is
refused. SQLite serialises writers anyway (``BEGIN IMMEDIATE``), so these run on PostgreSQL
only.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import db
from core.audit.models import AuditRecord
from core.keys.pins import KeyPins
from intake import services as intake_services
from rewards import errors
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardState, RewardTransition
from tests.conftest import ON_POSTGRES
from tests.rewards.instance import Instance, committed
from triage.deadlines import local_date

__all__ = ["committed"]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs QINGLING_TEST_DATABASE_URL pointing at PostgreSQL"
    ),
]

RACERS = 2


def race(inst: Instance, calls: list[Callable[[Session], object]]) -> list[str]:
    """Run each call in its own thread, session and transaction, all released at once; the
    outcome of each: "ok" or the name of the error it raised."""
    start = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[Session], object]) -> None:
        start.wait(timeout=30)
        try:
            with db.unit_of_work(inst.factory) as session:
                call(session)
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(calls), "a racer did not finish"
    return sorted(outcomes)


def counts(inst: Instance, reward_id: uuid.UUID, action: str) -> tuple[int, int]:
    """How many audit records and history rows the reward has for ``action``."""
    with inst.factory() as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(
                AuditRecord.object_id == str(reward_id), AuditRecord.action == f"reward.{action}"
            )
        )
        history = session.scalar(
            select(func.count())
            .select_from(RewardTransition)
            .where(RewardTransition.reward_id == reward_id, RewardTransition.action == action)
        )
    return int(audited or 0), int(history or 0)


def test_two_approvals_at_once_give_one(committed: Instance) -> None:
    inst = committed
    tip_id, reward_id, _ = inst.drive(RewardState.CALCULATED)

    def approve(name: str) -> Callable[[Session], object]:
        return lambda s: rewards.approve(
            s, inst.clock, inst.settings, inst.user(s, name), reward_id
        )

    outcomes = race(inst, [approve("approver"), approve("approver2")])
    assert outcomes == ["InvalidRewardTransition", "ok"]
    reward = inst.reward_of(tip_id)
    assert reward.state is RewardState.APPROVED
    assert reward.approved_by_id in {inst.ids["approver"], inst.ids["approver2"]}
    assert counts(inst, reward_id, "approve") == (1, 1)


def test_two_payments_at_once_give_one(committed: Instance) -> None:
    inst = committed
    tip_id, reward_id, _ = inst.drive(RewardState.CLAIMED)
    amount = inst.reward_of(tip_id).amount_fen or 0
    today = local_date(inst.clock.now())

    def pay(name: str, voucher: str) -> Callable[[Session], object]:
        return lambda s: rewards.record_payment(
            s,
            inst.clock,
            inst.settings,
            inst.user(s, name),
            reward_id,
            payment=rewards.Payment(voucher, today, amount),
        )

    outcomes = race(inst, [pay("officer", "记-0001"), pay("officer2", "记-0002")])
    assert outcomes == ["InvalidRewardTransition", "ok"]
    reward = inst.reward_of(tip_id)
    assert reward.state is RewardState.PAID
    assert reward.voucher_number in {"记-0001", "记-0002"}
    assert counts(inst, reward_id, "record_payment") == (1, 1)


def test_two_claims_at_once_give_one(committed: Instance) -> None:
    inst = committed
    tip_id, reward_id, token = inst.drive(RewardState.OFFERED)

    def claim(method: PaymentMethod) -> Callable[[Session], object]:
        def call(session: Session) -> object:
            access = intake_services.unlock_with_token(session, inst.settings, token)
            return rewards.claim_reward(
                session,
                inst.clock,
                inst.settings,
                access,
                token_text=token,
                details=rewards.ClaimDetails(
                    method,
                    account_name="王五",
                    bank="中国银行",
                    account_number="6216610200016587010",
                ),
                pins=KeyPins(None),
            )

        return call

    outcomes = race(inst, [claim(PaymentMethod.BANK_TRANSFER), claim(PaymentMethod.IN_PERSON)])
    assert outcomes == ["NothingToClaim", "ok"]
    reward = inst.reward_of(tip_id)
    assert reward.state is RewardState.CLAIMED
    assert counts(inst, reward_id, "claim") == (1, 1)
    # The stored claim is whole: the method and its claim code agree (one claim's columns).
    assert (reward.payment_method is PaymentMethod.IN_PERSON) == (
        reward.claim_code_hash is not None
    )


def test_a_claim_and_a_decline_at_once_give_one(committed: Instance) -> None:
    inst = committed
    tip_id, reward_id, token = inst.drive(RewardState.OFFERED)

    def claim(session: Session) -> object:
        access = intake_services.unlock_with_token(session, inst.settings, token)
        return rewards.claim_reward(
            session,
            inst.clock,
            inst.settings,
            access,
            token_text=token,
            details=rewards.ClaimDetails(PaymentMethod.IN_PERSON),
            pins=KeyPins(None),
        )

    def decline(session: Session) -> object:
        access = intake_services.unlock_with_token(session, inst.settings, token)
        rewards.decline_reward(session, inst.clock, inst.settings, access, token_text=token)
        return None

    outcomes = race(inst, [claim, decline])
    assert outcomes == ["NothingToClaim", "ok"]
    assert inst.reward_of(tip_id).state in {RewardState.CLAIMED, RewardState.DECLINED}
    with inst.factory() as session:
        moves = session.scalar(
            select(func.count())
            .select_from(RewardTransition)
            .where(
                RewardTransition.reward_id == reward_id,
                RewardTransition.action.in_(["claim", "decline"]),
            )
        )
    assert moves == 1


def test_the_racers_really_overlap(committed: Instance) -> None:
    """The second approval waits for the first one's row lock: its transaction ends after the
    first commits (so the refusals above come from the lock, not from luck)."""
    inst = committed
    tip_id, reward_id, _ = inst.drive(RewardState.CALCULATED)
    ended: dict[str, dt.datetime] = {}
    holding = threading.Event()

    def first(session: Session) -> object:
        found = session.scalar(select(Reward).where(Reward.id == reward_id).with_for_update())
        assert found is not None
        holding.set()
        threading.Event().wait(0.5)  # hold the row lock a moment
        rewards.approve(
            session, inst.clock, inst.settings, inst.user(session, "approver"), reward_id
        )
        ended["first"] = dt.datetime.now(dt.UTC)
        return None

    def second(session: Session) -> object:
        holding.wait(timeout=30)
        try:
            rewards.approve(
                session, inst.clock, inst.settings, inst.user(session, "approver2"), reward_id
            )
        finally:
            ended["second"] = dt.datetime.now(dt.UTC)
        return None

    outcomes = race(inst, [first, second])
    assert outcomes == ["InvalidRewardTransition", "ok"]
    assert ended["second"] >= ended["first"]
    assert inst.reward_of(tip_id).approved_by_id == inst.ids["approver"]
    assert errors.InvalidRewardTransition.status == 409
