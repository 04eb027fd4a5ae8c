"""The reward lifecycle through its services: the transition table for every pair of states and
every action from every state, where rewards come from (triage's conclusion, duplicates, a
re-check), the penalty decision, the calculation, two people, the offer, the payment, roles,
the reporter's view and the timed job."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.audit.models import AuditRecord
from core.errors import DomainError, Forbidden
from intake.models import TipState
from rewards import errors
from rewards import services as rewards
from rewards.jobs import expire_offers, run_due
from rewards.models import (
    NotEligibleReason,
    PaymentMethod,
    Reward,
    RewardAction,
    RewardKind,
    RewardState,
    RewardTransition,
)
from rewards.services.workflow import FINAL_STATES, STEPS, TRANSITIONS, actions_from, allowed
from tests.rewards.conftest import FINE_FEN, RewardWorld
from triage import services as triage

S = RewardState

# Written out by hand (not derived from the table), so a change of the table fails here.
EXPECTED: set[tuple[RewardState, RewardState]] = {
    (S.AWAITING_PENALTY_DECISION, S.AWAITING_PENALTY_DECISION),  # the decision recorded
    (S.AWAITING_PENALTY_DECISION, S.CALCULATED),
    (S.AWAITING_PENALTY_DECISION, S.NOT_ELIGIBLE),  # no reward due, or withdrawn
    (S.CALCULATED, S.AWAITING_PENALTY_DECISION),  # sent back
    (S.CALCULATED, S.APPROVED),
    (S.CALCULATED, S.NOT_ELIGIBLE),  # withdrawn after a re-check
    (S.APPROVED, S.OFFERED),
    (S.APPROVED, S.NOT_ELIGIBLE),  # withdrawn after a re-check
    (S.OFFERED, S.CLAIMED),
    (S.OFFERED, S.DECLINED),
    (S.OFFERED, S.EXPIRED),
    (S.CLAIMED, S.PAID),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(RewardState, RewardState)))
def test_every_pair_of_states(source: RewardState, target: RewardState) -> None:
    assert allowed(source, target) is ((source, target) in EXPECTED)


def test_table_has_no_other_pairs_and_ends_where_it_should() -> None:
    assert set(TRANSITIONS) == EXPECTED
    assert {S.NOT_ELIGIBLE, S.PAID, S.EXPIRED, S.DECLINED} == FINAL_STATES
    assert {step.action for step in STEPS} == set(RewardAction)
    assert actions_from(S.PAID) == []
    created = next(step for step in STEPS if step.action is RewardAction.CREATE)
    assert created.sources == {None}
    assert created.targets == {S.AWAITING_PENALTY_DECISION, S.NOT_ELIGIBLE}


# ---------------------------------------------------------------- every action from every state

#: action → (states it is allowed from, the state it leads to), by hand.
ACTIONS: dict[str, tuple[set[RewardState], RewardState]] = {
    "record_penalty_decision": ({S.AWAITING_PENALTY_DECISION}, S.AWAITING_PENALTY_DECISION),
    "calculate": ({S.AWAITING_PENALTY_DECISION}, S.CALCULATED),
    "send_back": ({S.CALCULATED}, S.AWAITING_PENALTY_DECISION),
    "approve": ({S.CALCULATED}, S.APPROVED),
    "offer": ({S.APPROVED}, S.OFFERED),
    "claim": ({S.OFFERED}, S.CLAIMED),
    "decline": ({S.OFFERED}, S.DECLINED),
    "expire": ({S.OFFERED}, S.EXPIRED),
    "record_payment": ({S.CLAIMED}, S.PAID),
}


def _run(rw: RewardWorld, action: str, tip_id: uuid.UUID, reward_id: uuid.UUID) -> None:
    state = rw.reward(tip_id).state
    calls: dict[str, Callable[[], object]] = {
        "record_penalty_decision": lambda: rw.record_decision(reward_id),
        "calculate": lambda: rw.calculate(reward_id),
        "send_back": lambda: rewards.send_back(
            *rw.args("approver"), reward_id, note="罚款金额录入有误，请重新核算。"
        ),
        "approve": lambda: rw.approve(reward_id),
        "offer": lambda: rw.offer(reward_id),
        "claim": lambda: rw.claim(tip_id),
        "decline": lambda: rewards.decline_reward(
            rw.w.dbs, rw.w.clock, rw.w.settings, rw.access(tip_id), token_text=rw.tokens[tip_id]
        ),
        "expire": lambda: expire_offers(rw.w.dbs, rw.w.clock),
        "record_payment": lambda: rw.pay(reward_id, voucher=f"V-{reward_id.hex[:10]}"),
    }
    if action == "calculate" and state is S.AWAITING_PENALTY_DECISION:
        rw.record_decision(reward_id)
    if action == "expire":
        rw.w.clock.advance(days=rw.w.settings.reward_claim_days + 2)
    if action == "offer":
        rw.w.clock.advance(days=11)  # past the reporter's objection window
    calls[action]()


@pytest.mark.parametrize(
    ("state", "action"), list(itertools.product(list(RewardState), list(ACTIONS)))
)
def test_every_action_from_every_state(rw: RewardWorld, state: RewardState, action: str) -> None:
    tip_id, reward_id = rw.to_state(state)
    sources, target = ACTIONS[action]
    before = len(
        list(
            rw.w.dbs.scalars(
                select(RewardTransition.id).where(RewardTransition.reward_id == reward_id)
            )
        )
    )
    if state in sources:
        _run(rw, action, tip_id, reward_id)
        assert rw.reward(tip_id).state is target
        history = rw.w.dbs.scalars(
            select(RewardTransition)
            .where(RewardTransition.reward_id == reward_id)
            .order_by(RewardTransition.seq)
        ).all()
        assert len(history) == before + (
            2 if action == "calculate" and state is S.AWAITING_PENALTY_DECISION else 1
        )
        assert history[-1].to_state is target
        last = rw.w.audit()[-1]
        assert last.object_id == str(reward_id)
    elif action == "expire":
        _run(rw, action, tip_id, reward_id)  # the job passes it by
        assert rw.reward(tip_id).state is state
    else:
        with pytest.raises(DomainError):
            _run(rw, action, tip_id, reward_id)
        assert rw.reward(tip_id).state is state
        after = rw.w.dbs.scalars(
            select(RewardTransition.id).where(RewardTransition.reward_id == reward_id)
        ).all()
        assert len(after) == before


# ---------------------------------------------------------------- where rewards come from


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (TipState.SUBSTANTIATED, S.AWAITING_PENALTY_DECISION),
        (TipState.PARTLY_SUBSTANTIATED, S.AWAITING_PENALTY_DECISION),
        (TipState.UNSUBSTANTIATED, None),
    ],
)
def test_a_conclusion_creates_the_reward_record(
    rw: RewardWorld, outcome: TipState, expected: RewardState | None
) -> None:
    tip_id = rw.concluded(outcome)
    found = rw.w.dbs.scalar(select(Reward).where(Reward.tip_id == tip_id))
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert found.state is expected
    assert found.concluded_tip_id == tip_id
    assert found.division_id == rw.w.own
    created = [a for a in rw.w.audit() if a.action == "reward.create"]
    assert json.loads(created[-1].details)["tip"] == str(tip_id)
    assert created[-1].actor_label == rw.w.city.user.username


def test_a_later_reporter_of_the_same_matter_is_not_eligible(rw: RewardWorld) -> None:
    """B repeats A but was accepted first, so B keeps the reward right: A's conclusion makes
    A's record not_eligible and gives B the record."""
    a = rw.submit()
    b = rw.submit()
    args = rw.w.args()
    triage.accept(*args, b)
    rw.w.clock.advance(minutes=5)
    triage.accept(*args, a)
    triage.mark_duplicate(*args, b, original_id=a)
    assert rw.w.tip(b).reward_right
    assert not rw.w.tip(a).reward_right
    triage.start_verification(*args, a)
    triage.conclude(
        *args, a, personal_key=rw.w.city.key, outcome=TipState.SUBSTANTIATED, text="属实。"
    )
    ra, rb = rw.reward(a), rw.reward(b)
    assert (ra.state, ra.not_eligible_reason) == (
        S.NOT_ELIGIBLE,
        NotEligibleReason.EARLIER_REPORTER,
    )
    assert (rb.state, rb.concluded_tip_id) == (S.AWAITING_PENALTY_DECISION, a)


def test_a_duplicate_accepted_later_gets_no_record(rw: RewardWorld) -> None:
    a = rw.submit()
    b = rw.submit()
    args = rw.w.args()
    triage.accept(*args, a)
    triage.mark_duplicate(*args, b, original_id=a)
    triage.start_verification(*args, a)
    triage.conclude(
        *args, a, personal_key=rw.w.city.key, outcome=TipState.SUBSTANTIATED, text="属实。"
    )
    assert rw.reward(a).state is S.AWAITING_PENALTY_DECISION
    assert rw.w.dbs.scalar(select(Reward).where(Reward.tip_id == b)) is None


def test_losing_the_reward_right_before_the_calculation_makes_it_not_eligible(
    rw: RewardWorld,
) -> None:
    """X (same hour as A) was accepted before A but linked to A only after A's conclusion:
    the right moves to X, and A's calculation says a later reporter gets nothing."""
    a = rw.submit()
    x = rw.submit()
    args = rw.w.args()
    triage.accept(*args, x)
    rw.w.clock.advance(minutes=5)
    triage.accept(*args, a)
    triage.start_verification(*args, a)
    triage.conclude(
        *args, a, personal_key=rw.w.city.key, outcome=TipState.SUBSTANTIATED, text="属实。"
    )
    reward = rw.reward(a)
    assert reward.state is S.AWAITING_PENALTY_DECISION
    triage.mark_duplicate(*args, x, original_id=a)
    rw.record_decision(reward.id)
    rw.calculate(reward.id)
    reward = rw.reward(a)
    assert (reward.state, reward.rule, reward.amount_fen) == (S.NOT_ELIGIBLE, "later_reporter", 0)
    assert reward.not_eligible_reason is NotEligibleReason.RULES
    assert reward.inputs is not None
    assert reward.inputs["earliest_reporter"] is False


def test_a_recheck_that_does_not_substantiate_withdraws_the_reward(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rw.record_decision(reward.id)
    rw.calculate(reward.id)
    rw.approve(reward.id)
    with pytest.raises(errors.OfferTooEarly):
        rw.offer(reward.id)
    triage.reporter_object(rw.w.dbs, rw.w.clock, rw.w.settings, rw.access(tip_id), "只是部分属实。")
    rw.w.clock.advance(days=20)
    with pytest.raises(errors.OfferTooEarly):  # a re-check is running
        rw.offer(reward.id)
    triage.conclude_recheck(
        *rw.w.args(),
        tip_id,
        personal_key=rw.w.city.key,
        outcome=TipState.UNSUBSTANTIATED,
        text="复核认定不属实。",
    )
    reward = rw.reward(tip_id)
    assert (reward.state, reward.not_eligible_reason) == (S.NOT_ELIGIBLE, NotEligibleReason.RECHECK)
    assert reward.withdrawn_at is not None
    status = triage.reporter_status(rw.w.dbs, rw.w.clock, rw.w.settings, rw.access(tip_id))
    assert status.reward is not None
    assert status.reward.state is rewards.ReporterRewardState.NOT_ELIGIBLE
    assert status.reward.amount_fen is None


def test_a_recheck_that_substantiates_creates_the_reward(rw: RewardWorld) -> None:
    tip_id = rw.concluded(TipState.UNSUBSTANTIATED)
    triage.reporter_object(rw.w.dbs, rw.w.clock, rw.w.settings, rw.access(tip_id), "确有其事。")
    assert rw.w.dbs.scalar(select(Reward).where(Reward.tip_id == tip_id)) is None
    triage.conclude_recheck(
        *rw.w.args(),
        tip_id,
        personal_key=rw.w.city.key,
        outcome=TipState.SUBSTANTIATED,
        text="复核认定属实。",
    )
    assert rw.reward(tip_id).state is S.AWAITING_PENALTY_DECISION
    # Offered once the re-check has given the final conclusion.
    reward = rw.reward(tip_id)
    rw.record_decision(reward.id)
    rw.calculate(reward.id)
    rw.approve(reward.id)
    rw.offer(reward.id)
    assert rw.reward(tip_id).state is S.OFFERED


# ---------------------------------------------------------------- decision and calculation


def test_calculation_stores_rule_set_rule_inputs_amount_and_explanation(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    with pytest.raises(errors.PenaltyDecisionMissing):
        rw.calculate(reward.id)
    # Two fines added together: ¥10,000 + ¥15,000; 15 % is ¥3,750.
    rw.record_decision(reward.id, fines=(1_000_000, 1_500_000))
    rw.calculate(reward.id)
    reward = rw.reward(tip_id)
    assert reward.state is S.CALCULATED
    assert (reward.rule_set, reward.rule, reward.amount_fen) == (
        "national-2018",
        "hazard_penalty",
        375_000,
    )
    assert reward.inputs is not None
    assert reward.inputs["penalties_fen"] == [1_000_000, 1_500_000]
    assert reward.explanation is not None
    assert any("¥25,000.00" in zh and "¥25,000.00" in en for zh, en in reward.explanation)
    assert reward.explanation[-1] == ["奖励金额：¥3,750.00。", "Reward: ¥3,750.00."]
    assert reward.calculated_by_id == rw.finance("officer").user.id


def test_a_local_rule_set_can_be_chosen(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rw.record_decision(reward.id, fines=(FINE_FEN,))
    rw.calculate(reward.id, rule_set_id="taizhou")
    reward = rw.reward(tip_id)
    assert (reward.rule_set, reward.amount_fen) == ("taizhou-2020", 500_000)  # 20 %, min ¥5,000


def test_no_penalty_under_the_national_rules_is_not_eligible(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rewards.record_penalty_decision(
        *rw.args("officer"),
        reward.id,
        decision=rewards.PenaltyDecision(
            RewardKind.HAZARD, no_penalty=True, decision_date=rw.today()
        ),
    )
    rw.calculate(reward.id)
    reward = rw.reward(tip_id)
    assert (reward.state, reward.rule, reward.amount_fen) == (
        S.NOT_ELIGIBLE,
        "hazard_no_penalty",
        0,
    )


def test_a_concealed_accident(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rewards.record_penalty_decision(
        *rw.args("officer"),
        reward.id,
        decision=rewards.PenaltyDecision(
            RewardKind.CONCEALED_ACCIDENT,
            decision_number="张安委调〔2026〕3号",
            decision_date=rw.today(),
            accident_grade="较大",
            deaths=2,
        ),
    )
    rw.calculate(reward.id)
    reward = rw.reward(tip_id)
    assert (reward.rule, reward.amount_fen) == ("concealed_accident", 8_000_000)


def test_an_exclusion_and_a_joint_cosignatory(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rw.record_decision(reward.id)
    with pytest.raises(errors.UnknownExclusion):
        rw.calculate(reward.id, exclusions=["no_such_thing"])
    rw.calculate(reward.id, joint_position=2)
    reward = rw.reward(tip_id)
    assert (reward.state, reward.rule) == (S.NOT_ELIGIBLE, "joint_cosignatory")
    assert reward.joint_position == 2


def _decision(rw: RewardWorld, **changes: object) -> rewards.PenaltyDecision:
    values: dict[str, object] = {
        "kind": RewardKind.HAZARD,
        "penalties_fen": (FINE_FEN,),
        "decision_number": "张民罚决字〔2026〕12号",
        "decision_date": rw.today(),
    }
    values.update(changes)
    return rewards.PenaltyDecision(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"penalties_fen": ()}, errors.NoFines),
        ({"no_penalty": True}, errors.FinesWithNoPenalty),
        ({"penalties_fen": (100, 0)}, errors.FineNotPositive),
        ({"penalties_fen": (100,) * 21}, errors.TooManyFines),
        ({"decision_number": " "}, errors.DecisionNumberRequired),
        ({"decision_date": None}, errors.DecisionDateRequired),
        ({"deaths": 1}, errors.AccidentDetailsNotForHazard),
        ({"kind": RewardKind.CONCEALED_ACCIDENT}, errors.FinesNotForAccident),
        (
            {"kind": RewardKind.CONCEALED_ACCIDENT, "penalties_fen": (), "accident_grade": "小"},
            errors.AccidentDetailsRequired,
        ),
        ({"decision_number": "x" * 101}, errors.TextInvalid),
    ],
)
def test_impossible_penalty_decisions_are_refused(
    rw: RewardWorld, changes: dict[str, object], error: type[DomainError]
) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    with pytest.raises(error):
        rewards.record_penalty_decision(
            *rw.args("officer"), reward.id, decision=_decision(rw, **changes)
        )
    assert rw.reward(tip_id).decision_recorded_at is None


def test_a_decision_dated_tomorrow_is_refused(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    with pytest.raises(errors.DecisionDateInFuture):
        rewards.record_penalty_decision(
            *rw.args("officer"),
            rw.reward(tip_id).id,
            decision=_decision(rw, decision_date=rw.today() + dt.timedelta(days=1)),
        )


def test_send_back_clears_the_calculation_and_a_new_one_can_be_made(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.CALCULATED)
    with pytest.raises(errors.TextInvalid):
        rewards.send_back(*rw.args("approver"), reward_id, note="  ")
    rewards.send_back(*rw.args("approver"), reward_id, note="处罚决定书金额有误。")
    reward = rw.reward(tip_id)
    assert reward.state is S.AWAITING_PENALTY_DECISION
    assert (reward.amount_fen, reward.calculated_by_id, reward.rule_set) == (None, None, None)
    assert reward.sent_back_note == "处罚决定书金额有误。"
    assert reward.decision_number  # the decision is kept
    rewards.calculate(*rw.args("officer2"), reward_id)
    assert rw.reward(tip_id).calculated_by_id == rw.finance("officer2").user.id


# ---------------------------------------------------------------- two people


def test_the_calculator_cannot_approve_in_the_service(rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    rewards.record_penalty_decision(*rw.args("both"), reward.id, decision=_decision(rw))
    rewards.calculate(*rw.args("both"), reward.id)
    with pytest.raises(errors.CalculatorCannotApprove):
        rewards.approve(*rw.args("both"), reward.id)
    assert rw.reward(tip_id).state is S.CALCULATED
    rewards.approve(*rw.args("approver"), reward.id)
    reward = rw.reward(tip_id)
    assert reward.approved_by_id == rw.finance("approver").user.id
    assert reward.approved_by_id != reward.calculated_by_id


def test_the_calculator_cannot_approve_in_the_database(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.CALCULATED)
    reward = rw.reward(tip_id)
    calculator = reward.calculated_by_id
    with (
        pytest.raises(IntegrityError, match="approver_not_calculator"),
        rw.w.dbs.begin_nested(),
    ):
        rw.w.dbs.execute(
            update(Reward)
            .where(Reward.id == reward_id)
            .values(state=S.APPROVED, approved_by_id=calculator, approved_at=rw.w.clock.now())
        )
    assert rw.reward(tip_id).state is S.CALCULATED


def test_a_state_without_its_columns_is_refused_by_the_database(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.CALCULATED)
    for values in (
        {"state": S.APPROVED},  # no approver
        {"state": S.OFFERED},  # no offer date or deadline
        {"state": S.PAID},  # no payment
        {"amount_fen": -1},
    ):
        with pytest.raises(IntegrityError), rw.w.dbs.begin_nested():
            rw.w.dbs.execute(update(Reward).where(Reward.id == reward_id).values(**values))
    assert rw.reward(tip_id).state is S.CALCULATED


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("step", "who"),
    [
        ("record_decision", "approver"),
        ("calculate", "approver"),
        ("approve", "officer"),
        ("approve", "officer_other"),
    ],
)
def test_finance_roles_and_scope(rw: RewardWorld, step: str, who: str) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    if step == "approve":
        rw.record_decision(reward.id)
        rw.calculate(reward.id)
    elif step == "calculate":
        rw.record_decision(reward.id)
    calls: dict[str, Callable[[], object]] = {
        "record_decision": lambda: rewards.record_penalty_decision(
            *rw.args(who), reward.id, decision=_decision(rw)
        ),
        "calculate": lambda: rewards.calculate(*rw.args(who), reward.id),
        "approve": lambda: rewards.approve(*rw.args(who), reward.id),
    }
    with pytest.raises(Forbidden):
        calls[step]()


@pytest.mark.parametrize(
    "who", ["triage_own", "triage_city", "supervisor", "case_officer", "administrator", "auditor"]
)
def test_other_roles_cannot_approve_calculate_or_pay(rw: RewardWorld, who: str) -> None:
    _, calculated = rw.to_state(S.CALCULATED)
    _, claimed = rw.to_state(S.CLAIMED)
    args = rw.w.args(rw.w.staff(who))
    with pytest.raises(Forbidden):
        rewards.approve(*args, calculated)
    with pytest.raises(Forbidden):
        rewards.send_back(*args, calculated, note="不同意。")
    with pytest.raises(Forbidden):
        rewards.record_payment(*args, claimed, payment=rewards.Payment("V-1", rw.today(), 300_000))


# ---------------------------------------------------------------- offer and payment


def test_offer_sets_the_claim_deadline(rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(S.OFFERED)
    reward = rw.reward(tip_id)
    assert reward.offered_at == rw.w.clock.now()
    assert reward.claim_deadline is not None
    from triage.deadlines import last_day, local_date

    days = (last_day(reward.claim_deadline) - local_date(reward.offered_at)).days
    assert days == rw.w.settings.reward_claim_days
    seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, tip_id, reminder_days=14)
    assert seen is not None
    assert (seen.state, seen.amount_fen, seen.can_claim, seen.days_left, seen.remind) == (
        rewards.ReporterRewardState.OFFERED,
        300_000,
        True,
        60,
        False,
    )
    rw.w.clock.advance(days=50)
    seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, tip_id, reminder_days=14)
    assert seen is not None
    assert (seen.days_left, seen.remind) == (10, True)


def test_reporter_sees_no_amount_before_the_offer(rw: RewardWorld) -> None:
    for state in (S.AWAITING_PENALTY_DECISION, S.CALCULATED, S.APPROVED):
        tip_id, _ = rw.to_state(state)
        seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, tip_id)
        assert seen is not None
        assert seen.state is rewards.ReporterRewardState.CONSIDERING
        assert (seen.amount_fen, seen.claim_deadline, seen.can_claim) == (None, None, False)
    assert rewards.reporter_offer(rw.w.dbs, rw.w.clock, rw.submit()) is None


def test_payment_guards(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.CLAIMED)
    pay = rw.args("officer")

    def attempt(**changes: object) -> None:
        values: dict[str, object] = {
            "voucher_number": "记-2026-0077",
            "paid_on": rw.today(),
            "amount_fen": 300_000,
        }
        values.update(changes)
        rewards.record_payment(*pay, reward_id, payment=rewards.Payment(**values))  # type: ignore[arg-type]

    with pytest.raises(errors.PaymentAmountMismatch):
        attempt(amount_fen=299_999)
    with pytest.raises(errors.PaymentDateInvalid):
        attempt(paid_on=rw.today() + dt.timedelta(days=1))
    with pytest.raises(errors.PaymentDateInvalid):
        attempt(paid_on=rw.today() - dt.timedelta(days=1))
    with pytest.raises(errors.TextInvalid):
        attempt(voucher_number="")
    other_tip, _ = rw.to_state(S.PAID)
    taken = rw.reward(other_tip).voucher_number
    with pytest.raises(errors.VoucherNumberTaken):
        attempt(voucher_number=taken)
    assert rw.reward(tip_id).state is S.CLAIMED
    attempt()
    reward = rw.reward(tip_id)
    assert (reward.state, reward.voucher_number, reward.paid_amount_fen) == (
        S.PAID,
        "记-2026-0077",
        300_000,
    )
    seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, tip_id)
    assert seen is not None
    assert (seen.state, seen.paid_on, seen.amount_fen) == (
        rewards.ReporterRewardState.PAID,
        rw.today(),
        300_000,
    )


def test_collection_in_person_needs_the_claim_code(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.OFFERED)
    receipt = rw.claim(tip_id, rewards.ClaimDetails(PaymentMethod.IN_PERSON))
    code = receipt.claim_code
    assert code is not None
    assert len(code.replace("-", "")) == 20
    reward = rw.reward(tip_id)
    assert reward.payment_method is PaymentMethod.IN_PERSON
    assert reward.claim_code_hash is not None
    assert len(reward.claim_code_hash) == 32
    with pytest.raises(errors.ClaimCodeRequired):
        rw.pay(reward_id)
    wrong = ("0" if code[0] != "0" else "1") + code[1:]
    with pytest.raises(errors.ClaimCodeWrong):
        rw.pay(reward_id, code=wrong)
    # Typed with spaces and full-width digits, as from a phone's Chinese keyboard.
    typed = " ".join(code.split("-")).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rw.pay(reward_id, code=typed)
    assert rw.reward(tip_id).state is S.PAID


# ---------------------------------------------------------------- audit and job


def test_every_step_is_audited_without_payment_details(rw: RewardWorld) -> None:
    _, reward_id = rw.to_state(S.PAID)
    records = rw.w.dbs.scalars(
        select(AuditRecord).where(AuditRecord.object_id == str(reward_id)).order_by(AuditRecord.seq)
    ).all()
    assert [r.action for r in records] == [
        "reward.create",
        "reward.record_penalty_decision",
        "reward.calculate",
        "reward.approve",
        "reward.offer",
        "reward.claim",
        "reward.record_payment",
    ]
    claim = next(r for r in records if r.action == "reward.claim")
    assert claim.actor_label == "reporter"
    assert claim.at.minute == 0
    assert claim.at.second == 0  # the reporter's act, to the hour
    text = " ".join(r.details for r in records)
    for secret in ("张三", "工商银行", "6222", "62220211"):
        assert secret not in text


def test_run_due_expires_and_lists_offers_near_their_deadline(rw: RewardWorld) -> None:
    near_tip, near = rw.to_state(S.OFFERED)
    rw.w.clock.advance(days=30)
    far_tip, far = rw.to_state(S.OFFERED)
    # Now near has 60 - 41 = 19 days left (to_state moved the clock 11 days to offer far).
    lines = run_due(rw.w.dbs, rw.w.clock, rw.w.settings)
    assert lines[0] == "reward offers expired: 0"
    assert all(str(far) not in line for line in lines)
    rw.w.clock.advance(days=10)
    lines = run_due(rw.w.dbs, rw.w.clock, rw.w.settings)
    assert any(str(near) in line and "days left" in line for line in lines)
    assert all(str(far) not in line for line in lines)
    rw.w.clock.advance(days=10)
    lines = run_due(rw.w.dbs, rw.w.clock, rw.w.settings)
    assert lines[0] == "reward offers expired: 1"
    assert lines[1] == f"  {near}"
    assert rw.reward(near_tip).state is S.EXPIRED
    assert rw.reward(far_tip).state is S.OFFERED
    assert run_due(rw.w.dbs, rw.w.clock, rw.w.settings)[0] == "reward offers expired: 0"
    seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, near_tip)
    assert seen is not None
    assert seen.state is rewards.ReporterRewardState.EXPIRED
    with pytest.raises(errors.NothingToClaim):
        rw.claim(near_tip)


def test_the_reward_of_a_tip_for_a_reader_in_scope(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(S.CALCULATED)
    found = rewards.reward_of_tip_for(rw.w.dbs, rw.w.staff("triage_own").user, tip_id)
    assert found is not None
    assert found.id == reward_id
    assert rewards.reward_of_tip_for(rw.w.dbs, rw.w.staff("triage_other").user, tip_id) is None
    assert rewards.reward_of_tip_for(rw.w.dbs, rw.w.staff("case_officer").user, tip_id) is None
    assert rewards.reward_of_tip_for(rw.w.dbs, rw.w.staff("triage_own").user, rw.submit()) is None
