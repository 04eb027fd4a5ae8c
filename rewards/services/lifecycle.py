"""One service per staff transition of the reward workflow (the table is
:mod:`rewards.services.workflow`; the reporter's claim and decline are in
:mod:`rewards.services.claims`, the expiry in :mod:`rewards.jobs`).

Each service: load the reward under its row lock, check role and scope (:class:`Forbidden`),
check the table (:class:`InvalidRewardTransition`) and its own guards, set the columns of the
new state, then :func:`~rewards.services.common.transition` appends the history row and the
audit record and flushes. Nothing is committed here.

**Where a reward comes from.** :func:`tip_concluded` runs inside triage's ``conclude`` and
``conclude_recheck``: a substantiated (or partly substantiated) conclusion gives the tip a reward
record awaiting the penalty decision — unless another report of the same matter holds the
reward right (it was accepted first: ``Tip.reward_right``, kept by
``triage.services.duplicates``), in which case this tip's record is ``not_eligible`` and the
right holder gets the record instead. A re-check that does not substantiate the report
withdraws a reward that was not yet offered.

**Two people.** The approver may not be the calculator: :func:`approve` refuses it, and the
``approver_not_calculator`` CHECK constraint refuses it again in the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit.services import actor_of
from core.clock import Clock
from core.settings import Settings
from crypto.suite import encode_binding
from intake.models import CONCLUDED_STATES, Tip, TipState
from rewards import errors
from rewards.models import (
    NotEligibleReason,
    PaymentMethod,
    Reward,
    RewardAction,
    RewardKind,
    RewardState,
)
from rewards.rules import GRADES, QuoteInput, rule_set_in_force
from rewards.rules import calculate as quote
from rewards.rules.rule_sets import EXCLUSIONS_BY_CODE
from rewards.services.common import (
    load_reward,
    require_act,
    reward_of_tip,
    transition,
)
from triage.deadlines import end_of_day_after, last_day, local_date

#: Most fines one decision may add together (the unit and its responsible persons).
FINES_MAX = 20
DECISION_NUMBER_MAX = 100
NOTE_MAX = 500
VOUCHER_MAX = 100
_POSITIVE = frozenset({TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED})
#: States a re-check that does not substantiate the report withdraws (an offer is made only on
#: a final conclusion, so nothing later can be affected).
_WITHDRAWABLE = frozenset(
    {RewardState.AWAITING_PENALTY_DECISION, RewardState.CALCULATED, RewardState.APPROVED}
)
#: Longest chain of duplicate links followed.
_MAX_MATTER = 1000


# ---------------------------------------------------------------- values in


@dataclass(frozen=True)
class PenaltyDecision:
    """What finance records from the administrative penalty decision (or, for a concealed
    accident, the confirmation of its grade and deaths)."""

    kind: RewardKind
    penalties_fen: tuple[int, ...] = ()
    no_penalty: bool = False
    decision_number: str = ""
    decision_date: dt.date | None = None
    accident_grade: str | None = None
    deaths: int | None = None


@dataclass(frozen=True)
class Payment:
    """What finance records of a payment. ``claim_code`` is what the reporter shows when
    collecting in person (never stored: it is checked against the claim's hash)."""

    voucher_number: str
    paid_on: dt.date
    amount_fen: int
    claim_code: str | None = field(default=None, repr=False)


# ---------------------------------------------------------------- texts


def clean_line(value: str, maximum: int, *, required: bool = True) -> str:
    """A one-line staff text as stored: NFKC, trimmed, no control characters, not too long."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if (required and not text) or len(text) > maximum:
        raise errors.TextInvalid(max=maximum)
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise errors.TextInvalid(max=maximum)
    return text


def yuan_text(fen: int) -> str:
    """Fen as yuan with two decimals and thousands separators (``300,000.00``)."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"


def local_today(clock: Clock) -> dt.date:
    return local_date(clock.now())


# ---------------------------------------------------------------- creation (from triage)


def _root(session: Session, tip: Tip) -> Tip:
    current = tip
    for _ in range(_MAX_MATTER):
        if current.duplicate_of_id is None:
            return current
        parent = session.get(Tip, current.duplicate_of_id)
        if parent is None:  # pragma: no cover - a foreign key
            return current
        current = parent
    return current


def right_holder(session: Session, tip: Tip) -> Tip | None:
    """The tip of ``tip``'s matter (the first report and every report linked to it) that holds
    the reward right, or None if none does."""
    root = _root(session, tip)
    if root.reward_right:
        return root
    frontier = [root.id]
    seen = {root.id}
    while frontier and len(seen) < _MAX_MATTER:
        rows = session.execute(
            select(Tip.id, Tip.reward_right).where(Tip.duplicate_of_id.in_(frontier))
        ).all()
        for row in rows:
            if row.reward_right:
                return session.get(Tip, row.id)
        frontier = [row.id for row in rows if row.id not in seen]
        seen.update(frontier)
    return None


def _create(
    session: Session,
    clock: Clock,
    actor: User,
    tip: Tip,
    *,
    concluded: Tip,
    reason: NotEligibleReason | None,
) -> Reward:
    reward = Reward(
        id=uuid.uuid4(),
        tip_id=tip.id,
        concluded_tip_id=concluded.id,
        division_id=tip.division_id,
        created_at=clock.now(),
        not_eligible_reason=reason,
    )
    session.add(reward)
    target = RewardState.AWAITING_PENALTY_DECISION if reason is None else RewardState.NOT_ELIGIBLE
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.CREATE,
        target=target,
        details={
            "concluded_tip": str(concluded.id),
            "reason": None if reason is None else reason.value,
        },
    )
    return reward


def _withdraw(session: Session, clock: Clock, actor: User, reward: Reward) -> None:
    reward.not_eligible_reason = NotEligibleReason.RECHECK
    reward.withdrawn_at = clock.now()
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.WITHDRAW,
        target=RewardState.NOT_ELIGIBLE,
        details={"reason": NotEligibleReason.RECHECK.value},
    )


def tip_concluded(session: Session, clock: Clock, actor: User, tip: Tip) -> list[Reward]:
    """Called by triage when ``tip`` is concluded (or re-checked), with the officer who did it,
    inside the same transaction (the tip is locked). Returns the reward records it created.

    Substantiated or partly substantiated: the tip gets a record (once) — awaiting the penalty
    decision if it holds its matter's reward right (or nobody does), ``not_eligible`` if
    another report of the matter does, and then that report gets the record awaiting the
    decision. Not substantiated (a re-check's outcome): records of this conclusion that were not
    offered yet are withdrawn (``not_eligible``).
    """
    outcome = tip.recheck_outcome if tip.state is TipState.RECHECKED else tip.conclusion
    created: list[Reward] = []
    if outcome in _POSITIVE:
        if reward_of_tip(session, tip.id) is not None:
            return created
        holder = right_holder(session, tip)
        if holder is None or holder.id == tip.id:
            created.append(_create(session, clock, actor, tip, concluded=tip, reason=None))
            return created
        created.append(
            _create(
                session, clock, actor, tip, concluded=tip, reason=NotEligibleReason.EARLIER_REPORTER
            )
        )
        if reward_of_tip(session, holder.id) is None:
            created.append(_create(session, clock, actor, holder, concluded=tip, reason=None))
        return created
    affected = session.scalars(
        select(Reward)
        .where(Reward.concluded_tip_id == tip.id)
        .order_by(Reward.created_at, Reward.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for reward in affected:
        if reward.state in _WITHDRAWABLE:
            _withdraw(session, clock, actor, reward)
    return created


# ---------------------------------------------------------------- the penalty decision


def _checked_hazard(decision: PenaltyDecision, number: str) -> PenaltyDecision:
    fines = tuple(decision.penalties_fen)
    if decision.accident_grade is not None or decision.deaths is not None:
        raise errors.AccidentDetailsNotForHazard()
    if decision.no_penalty and fines:
        raise errors.FinesWithNoPenalty()
    if not decision.no_penalty:
        if not fines:
            raise errors.NoFines()
        if len(fines) > FINES_MAX:
            raise errors.TooManyFines(max=FINES_MAX)
        if any(isinstance(f, bool) or not isinstance(f, int) or f <= 0 for f in fines):
            raise errors.FineNotPositive()
        if not number:
            raise errors.DecisionNumberRequired()
    return PenaltyDecision(
        RewardKind.HAZARD, fines, bool(decision.no_penalty), number, decision.decision_date
    )


def _checked_accident(decision: PenaltyDecision, number: str) -> PenaltyDecision:
    if decision.penalties_fen or decision.no_penalty:
        raise errors.FinesNotForAccident()
    deaths = decision.deaths
    if (
        decision.accident_grade not in {g.name for g in GRADES}
        or deaths is None
        or isinstance(deaths, bool)
        or deaths < 1
    ):
        raise errors.AccidentDetailsRequired()
    if not number:
        raise errors.DecisionNumberRequired()
    return PenaltyDecision(
        RewardKind.CONCEALED_ACCIDENT,
        (),
        False,
        number,
        decision.decision_date,
        decision.accident_grade,
        deaths,
    )


def _checked_decision(decision: PenaltyDecision, today: dt.date) -> PenaltyDecision:
    kind = RewardKind(decision.kind)
    number = clean_line(decision.decision_number, DECISION_NUMBER_MAX, required=False)
    if decision.decision_date is None:
        raise errors.DecisionDateRequired()
    if decision.decision_date > today:
        raise errors.DecisionDateInFuture()
    if kind is RewardKind.HAZARD:
        return _checked_hazard(decision, number)
    return _checked_accident(decision, number)


def record_penalty_decision(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    reward_id: uuid.UUID,
    *,
    decision: PenaltyDecision,
) -> None:
    """Record (or correct) the penalty decision of a reward awaiting it: the fines (several
    are added together), the decision's number and date — or "no penalty" — or, for a
    concealed accident, its confirmed grade and deaths. Finance officers."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_OFFICER)
    if reward.state is not RewardState.AWAITING_PENALTY_DECISION:
        raise errors.InvalidRewardTransition()
    checked = _checked_decision(decision, local_today(clock))
    reward.kind = checked.kind
    reward.no_penalty = checked.no_penalty
    reward.penalties_fen = list(checked.penalties_fen) if checked.penalties_fen else None
    reward.decision_number = checked.decision_number or None
    reward.decision_date = checked.decision_date
    reward.accident_grade = checked.accident_grade
    reward.deaths = checked.deaths
    reward.decision_recorded_at = clock.now()
    reward.decision_recorded_by_id = actor.id
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.RECORD_PENALTY_DECISION,
        target=RewardState.AWAITING_PENALTY_DECISION,
        details={
            "kind": checked.kind.value,
            "no_penalty": checked.no_penalty,
            "fines_fen": list(checked.penalties_fen),
            "decision_number": checked.decision_number,
            "decision_date": None
            if checked.decision_date is None
            else checked.decision_date.isoformat(),
            "grade": checked.accident_grade,
            "deaths": checked.deaths,
        },
    )


# ---------------------------------------------------------------- calculation


def quote_input(reward: Reward, tip: Tip) -> QuoteInput:
    """The calculation's input from the recorded decision, the exclusions and the tip's reward
    right (read now: a later report accepted earlier may have taken it)."""
    kind = reward.kind or RewardKind.HAZARD
    return QuoteInput(
        kind="hazard" if kind is RewardKind.HAZARD else "concealed_accident",
        penalties_fen=tuple(reward.penalties_fen or ()),
        grade=reward.accident_grade,
        deaths=reward.deaths or 0,
        no_penalty=bool(reward.no_penalty),
        exclusions=frozenset(reward.exclusions or ()),
        earliest_reporter=tip.reward_right,
        joint_position=reward.joint_position,
    )


def _inputs_record(inputs: QuoteInput, rule_set_asked: str | None, on: dt.date) -> dict[str, Any]:
    return {
        "kind": inputs.kind,
        "penalties_fen": list(inputs.penalties_fen),
        "grade": inputs.grade,
        "deaths": inputs.deaths,
        "no_penalty": inputs.no_penalty,
        "exclusions": sorted(inputs.exclusions),
        "earliest_reporter": inputs.earliest_reporter,
        "joint_position": inputs.joint_position,
        "rule_set_asked": rule_set_asked,
        "rule_date": on.isoformat(),
    }


def calculate(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    reward_id: uuid.UUID,
    *,
    exclusions: Collection[str] = (),
    joint_position: int | None = None,
    rule_set_id: str | None = None,
) -> Reward:
    """awaiting_penalty_decision → calculated (or not_eligible when no reward is due), with
    the rule set in force on the day the report was submitted (``rule_set_id``: a version or a
    series such as a local variant; None: the national series), the exclusions finance found
    and, for a joint report, this reporter's place among the signatories. The rule set and
    rule applied, the inputs, the amount and the explanation (Chinese and English) are
    stored. Finance officers; the approver will have to be someone else."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_OFFICER)
    if reward.state is not RewardState.AWAITING_PENALTY_DECISION:
        raise errors.InvalidRewardTransition()
    if reward.kind is None:
        raise errors.PenaltyDecisionMissing()
    codes = sorted({c.strip() for c in exclusions if c.strip()})
    for code in codes:
        if code not in EXCLUSIONS_BY_CODE:
            raise errors.UnknownExclusion(code=code)
    if joint_position is not None and (isinstance(joint_position, bool) or joint_position < 1):
        raise errors.JointPositionInvalid()
    tip = session.get(Tip, reward.tip_id)
    if tip is None:  # pragma: no cover - a foreign key
        raise errors.RewardNotFound()
    reward.exclusions = codes
    reward.joint_position = joint_position
    on = local_date(tip.submitted_at)
    asked = rule_set_id.strip() if rule_set_id and rule_set_id.strip() else None
    rule_set = rule_set_in_force(session, on, asked)
    inputs = quote_input(reward, tip)
    result = quote(rule_set, inputs)
    eligible = result.eligible and result.amount_fen > 0
    reward.rule_set = result.rule_set
    reward.rule = result.rule
    reward.inputs = _inputs_record(inputs, asked, on)
    reward.amount_fen = result.amount_fen
    reward.explanation = [[step.zh, step.en] for step in result.steps]
    reward.calculated_at = clock.now()
    reward.calculated_by_id = actor.id
    reward.sent_back_note = None
    if not eligible:
        reward.not_eligible_reason = NotEligibleReason.RULES
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.CALCULATE,
        target=RewardState.CALCULATED if eligible else RewardState.NOT_ELIGIBLE,
        details={
            "rule_set": result.rule_set,
            "rule": result.rule,
            "amount_fen": result.amount_fen,
            "eligible": eligible,
            "exclusions": codes,
            "joint_position": joint_position,
        },
    )
    return reward


def send_back(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    reward_id: uuid.UUID,
    *,
    note: str,
) -> None:
    """calculated → awaiting_penalty_decision: an approver returns the calculation, saying why
    (the decision is kept, the calculation cleared; the audit trail keeps what it was)."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_APPROVER)
    text = clean_line(note, NOTE_MAX)
    if reward.state is not RewardState.CALCULATED:
        raise errors.InvalidRewardTransition()
    previous = {"rule_set": reward.rule_set, "rule": reward.rule, "amount_fen": reward.amount_fen}
    reward.sent_back_note = text
    reward.rule_set = None
    reward.rule = None
    reward.inputs = None
    reward.amount_fen = None
    reward.explanation = None
    reward.calculated_at = None
    reward.calculated_by_id = None
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.SEND_BACK,
        target=RewardState.AWAITING_PENALTY_DECISION,
        details={"previous": previous},
    )


# ---------------------------------------------------------------- approval and offer


def approve(
    session: Session, clock: Clock, settings: Settings, actor: User, reward_id: uuid.UUID
) -> None:
    """calculated → approved, by a finance approver who did not calculate it."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_APPROVER)
    if reward.state is not RewardState.CALCULATED:
        raise errors.InvalidRewardTransition()
    if reward.calculated_by_id == actor.id:
        raise errors.CalculatorCannotApprove()
    reward.approved_at = clock.now()
    reward.approved_by_id = actor.id
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.APPROVE,
        target=RewardState.APPROVED,
        details={"amount_fen": reward.amount_fen, "calculated_by": reward.calculated_by_id},
    )


def _check_final(tip: Tip, now: dt.datetime) -> None:
    """The conclusion that substantiated the matter can no longer change."""
    if tip.state is TipState.RECHECKING:
        due = tip.recheck_due_at or now
        raise errors.OfferTooEarly(date=last_day(due).isoformat())
    if (
        tip.state in CONCLUDED_STATES
        and tip.objected_at is None
        and tip.objection_due_at is not None
        and now < tip.objection_due_at
    ):
        raise errors.OfferTooEarly(date=last_day(tip.objection_due_at).isoformat())


def offer(
    session: Session, clock: Clock, settings: Settings, actor: User, reward_id: uuid.UUID
) -> None:
    """approved → offered: the reporter sees the offer on the status page and has until the
    end of the day ``reward_claim_days`` later to claim it. Only on a final conclusion (the
    objection window over, no re-check running). Finance officers or approvers."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
    if reward.state is not RewardState.APPROVED:
        raise errors.InvalidRewardTransition()
    concluded = session.get(Tip, reward.concluded_tip_id)
    now = clock.now()
    if concluded is not None:
        _check_final(concluded, now)
    deadline = end_of_day_after(now, settings.reward_claim_days)
    reward.offered_at = now
    reward.offered_by_id = actor.id
    reward.claim_deadline = deadline
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.OFFER,
        target=RewardState.OFFERED,
        details={"claim_deadline": last_day(deadline).isoformat(), "amount_fen": reward.amount_fen},
    )


# ---------------------------------------------------------------- payment


def claim_code_hash(reward_id: uuid.UUID, code_digits: str) -> bytes:
    """The stored form of a claim code: SHA-256 over a label, the reward and the digits. The
    code has 66 bits of randomness, so the hash cannot be searched back to it."""
    body = encode_binding("qingling/claim-code", reward_id, code_digits)
    return hashlib.sha256(body).digest()


def normalise_claim_code(text: str | None) -> str:
    """The digits of a typed claim code (full-width digits, spaces and dashes forgiven)."""
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(c for c in folded if c.isdigit() and c.isascii())


def record_payment(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    reward_id: uuid.UUID,
    *,
    payment: Payment,
) -> None:
    """claimed → paid: the voucher number (unique), the payment date (not before the claim,
    not in the future) and the amount, which must be the approved amount. A reward collected
    in person needs the claim code the reporter shows. Finance officers."""
    reward = load_reward(session, reward_id, lock=True)
    require_act(actor, reward, Role.FINANCE_OFFICER)
    if reward.state is not RewardState.CLAIMED:
        raise errors.InvalidRewardTransition()
    voucher = clean_line(payment.voucher_number, VOUCHER_MAX)
    amount = reward.amount_fen or 0
    if payment.amount_fen != amount:
        raise errors.PaymentAmountMismatch(amount=yuan_text(amount))
    claimed_on = local_date(reward.claimed_at) if reward.claimed_at else None
    if payment.paid_on > local_today(clock) or (claimed_on and payment.paid_on < claimed_on):
        raise errors.PaymentDateInvalid()
    if reward.payment_method is PaymentMethod.IN_PERSON:
        digits = normalise_claim_code(payment.claim_code)
        if not digits:
            raise errors.ClaimCodeRequired()
        expected = reward.claim_code_hash or b""
        if not hmac.compare_digest(claim_code_hash(reward.id, digits), expected):
            raise errors.ClaimCodeWrong()
    taken = session.scalar(
        select(Reward.id).where(Reward.voucher_number == voucher, Reward.id != reward.id)
    )
    if taken is not None:
        raise errors.VoucherNumberTaken()
    reward.paid_on = payment.paid_on
    reward.voucher_number = voucher
    reward.paid_amount_fen = payment.amount_fen
    reward.paid_recorded_at = clock.now()
    reward.paid_by_id = actor.id
    transition(
        session,
        clock,
        actor_of(actor),
        reward,
        action=RewardAction.RECORD_PAYMENT,
        target=RewardState.PAID,
        details={
            "voucher_number": voucher,
            "paid_on": payment.paid_on.isoformat(),
            "amount_fen": payment.amount_fen,
            "method": None if reward.payment_method is None else reward.payment_method.value,
        },
    )
