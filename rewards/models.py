"""Tables of the reward lifecycle (DESIGN.md "Workflows → Reward").

One :class:`Reward` row per tip that reached a substantiated (or partly substantiated)
conclusion, and per tip that holds the reward right of such a matter. Its state moves only through
:mod:`rewards.services` (the table is :mod:`rewards.services.workflow`); the CHECK constraints
below tie each state to the columns it needs, and the database itself refuses an approval by the
person who calculated (``approver_not_calculator``).

What is in the clear: routing values and money (division, state, amounts in fen, rule ids,
penalty decision numbers and dates, the payment method, voucher numbers). What is not: the
payment details the reporter gives when claiming (account name, bank, account number), sealed to
the **finance key group only** — a random claim key encrypts them (FIELD envelope, kind
``"claim"``, object the reward id) and is itself sealed with HPKE to the finance group's current
key (``claim_key_sealed``, bound to the tip id, the group and its version). The claim code for
collection in person is stored only as a keyed hash. The reporter's own actions (claim,
decline) are timed to the hour, like the submission.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, str_enum


class RewardState(enum.StrEnum):
    NOT_ELIGIBLE = "not_eligible"  # see ``not_eligible_reason``
    AWAITING_PENALTY_DECISION = "awaiting_penalty_decision"
    CALCULATED = "calculated"  # rule set, rule, inputs, amount and explanation stored
    APPROVED = "approved"  # by a second person in finance
    OFFERED = "offered"  # the reporter sees it; claim deadline running
    CLAIMED = "claimed"  # payment details sealed to the finance group
    PAID = "paid"
    EXPIRED = "expired"  # not claimed by the deadline
    DECLINED = "declined"  # by the reporter


class RewardKind(enum.StrEnum):
    """What the reward is for (the two branches of the national measure, Art. 10)."""

    HAZARD = "hazard"  # a hazard or illegal production: a share of the penalty
    CONCEALED_ACCIDENT = "concealed_accident"  # a fixed amount per verified concealed death


class NotEligibleReason(enum.StrEnum):
    #: Another report of the same matter was accepted first and keeps the reward right.
    EARLIER_REPORTER = "earlier_reporter"
    #: The calculation found the reward excluded (an exclusion, a later reporter, ...).
    RULES = "rules"
    #: A re-check after the reporter's objection did not substantiate the report.
    RECHECK = "recheck"


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    IN_PERSON = "in_person"  # collected at the bureau with the claim code


class RewardAction(enum.StrEnum):
    """The steps of the reward workflow; one service function each."""

    CREATE = "create"
    RECORD_PENALTY_DECISION = "record_penalty_decision"
    CALCULATE = "calculate"
    SEND_BACK = "send_back"  # an approver returns a calculation for another one
    APPROVE = "approve"
    OFFER = "offer"
    CLAIM = "claim"  # the reporter's
    DECLINE = "decline"  # the reporter's
    EXPIRE = "expire"  # `qingling jobs run-due`
    RECORD_PAYMENT = "record_payment"
    WITHDRAW = "withdraw"  # a re-check did not substantiate the report


def _in(*states: RewardState) -> str:
    return "state IN (" + ", ".join(f"'{s.value}'" for s in states) + ")"


S = RewardState
CALCULATED_OR_LATER = (
    S.CALCULATED,
    S.APPROVED,
    S.OFFERED,
    S.CLAIMED,
    S.PAID,
    S.EXPIRED,
    S.DECLINED,
)
APPROVED_OR_LATER = (S.APPROVED, S.OFFERED, S.CLAIMED, S.PAID, S.EXPIRED, S.DECLINED)
OFFERED_OR_LATER = (S.OFFERED, S.CLAIMED, S.PAID, S.EXPIRED, S.DECLINED)
CLAIMED_OR_LATER = (S.CLAIMED, S.PAID)


class Reward(Base):
    __tablename__ = "rewards"
    __table_args__ = (
        # Two people: the database refuses an approval by the calculator, whatever the code.
        CheckConstraint("approved_by_id <> calculated_by_id", name="approver_not_calculator"),
        CheckConstraint(
            "state <> 'not_eligible' OR not_eligible_reason IS NOT NULL",
            name="not_eligible_has_reason",
        ),
        CheckConstraint(
            f"NOT {_in(*CALCULATED_OR_LATER)} OR (kind IS NOT NULL "
            "AND calculated_at IS NOT NULL AND calculated_by_id IS NOT NULL "
            "AND amount_fen IS NOT NULL AND rule_set IS NOT NULL AND rule IS NOT NULL "
            "AND inputs IS NOT NULL AND explanation IS NOT NULL)",
            name="calculated_has_calculation",
        ),
        CheckConstraint(
            f"NOT {_in(*CALCULATED_OR_LATER)} OR amount_fen > 0",
            name="calculated_amount_positive",
        ),
        CheckConstraint("amount_fen IS NULL OR amount_fen >= 0", name="amount_not_negative"),
        CheckConstraint(
            f"NOT {_in(*APPROVED_OR_LATER)} OR (approved_at IS NOT NULL "
            "AND approved_by_id IS NOT NULL)",
            name="approved_has_approver",
        ),
        CheckConstraint(
            f"NOT {_in(*OFFERED_OR_LATER)} OR (offered_at IS NOT NULL "
            "AND claim_deadline IS NOT NULL)",
            name="offered_has_deadline",
        ),
        CheckConstraint(
            f"NOT {_in(*CLAIMED_OR_LATER)} OR (claimed_at IS NOT NULL "
            "AND payment_method IS NOT NULL AND payment_enc IS NOT NULL "
            "AND claim_key_sealed IS NOT NULL AND claim_group_id IS NOT NULL "
            "AND claim_group_version IS NOT NULL)",
            name="claimed_has_details",
        ),
        # Payment details exist only on a claimed (or paid) reward.
        CheckConstraint(
            f"{_in(*CLAIMED_OR_LATER)} OR (payment_enc IS NULL AND claim_key_sealed IS NULL "
            "AND payment_method IS NULL AND claim_code_hash IS NULL)",
            name="details_only_when_claimed",
        ),
        CheckConstraint(
            "payment_method IS NULL OR "
            "((payment_method = 'in_person') = (claim_code_hash IS NOT NULL))",
            name="claim_code_for_in_person",
        ),
        CheckConstraint(
            "state <> 'paid' OR (paid_on IS NOT NULL AND voucher_number IS NOT NULL "
            "AND paid_amount_fen IS NOT NULL AND paid_by_id IS NOT NULL "
            "AND paid_recorded_at IS NOT NULL)",
            name="paid_has_payment",
        ),
        CheckConstraint(
            "paid_amount_fen IS NULL OR paid_amount_fen = amount_fen", name="paid_as_approved"
        ),
        CheckConstraint("state <> 'expired' OR expired_at IS NOT NULL", name="expired_has_time"),
        CheckConstraint("state <> 'declined' OR declined_at IS NOT NULL", name="declined_has_time"),
        CheckConstraint(
            "(no_penalty IS NULL) = (decision_recorded_at IS NULL)",
            name="decision_recorded_consistently",
        ),
        CheckConstraint("deaths IS NULL OR deaths >= 1", name="deaths_positive"),
        CheckConstraint(
            "joint_position IS NULL OR joint_position >= 1", name="joint_position_positive"
        ),
        UniqueConstraint("voucher_number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tips.id", ondelete="RESTRICT"), unique=True
    )
    #: The tip whose conclusion substantiated the matter (the tip itself, or the first report
    #: of the matter when this tip holds the reward right as an earlier-accepted duplicate).
    concluded_tip_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tips.id", ondelete="RESTRICT"), index=True
    )
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[RewardState] = mapped_column(str_enum(RewardState, "reward_state"), index=True)
    created_at: Mapped[dt.datetime]
    not_eligible_reason: Mapped[NotEligibleReason | None] = mapped_column(
        str_enum(NotEligibleReason, "reward_not_eligible_reason", 20)
    )

    # ---- the penalty decision (or the accident's confirmation), recorded by finance
    kind: Mapped[RewardKind | None] = mapped_column(str_enum(RewardKind, "reward_kind", 20))
    no_penalty: Mapped[bool | None] = mapped_column(Boolean)
    penalties_fen: Mapped[list[int] | None] = mapped_column(JSON)
    decision_number: Mapped[str | None] = mapped_column(String(100))
    decision_date: Mapped[dt.date | None] = mapped_column(Date)
    accident_grade: Mapped[str | None] = mapped_column(String(20))
    deaths: Mapped[int | None] = mapped_column(Integer)
    decision_recorded_at: Mapped[dt.datetime | None]
    decision_recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )

    # ---- the calculation (rewards.rules.calculate)
    exclusions: Mapped[list[str] | None] = mapped_column(JSON)
    joint_position: Mapped[int | None] = mapped_column(Integer)
    rule_set: Mapped[str | None] = mapped_column(String(100))
    rule: Mapped[str | None] = mapped_column(String(100))
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    #: The steps of the explanation: a list of ``[zh, en]`` sentences.
    explanation: Mapped[list[list[str]] | None] = mapped_column(JSON)
    calculated_at: Mapped[dt.datetime | None]
    calculated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    #: Why an approver sent the last calculation back (staff words about the calculation).
    sent_back_note: Mapped[str | None] = mapped_column(String(500))

    # ---- approval and offer
    approved_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    offered_at: Mapped[dt.datetime | None]
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: The end of the last day to claim (a local midnight, in UTC), as for tip deadlines.
    claim_deadline: Mapped[dt.datetime | None] = mapped_column(index=True)

    # ---- the claim (the reporter's, timed to the hour)
    claimed_at: Mapped[dt.datetime | None]
    payment_method: Mapped[PaymentMethod | None] = mapped_column(
        str_enum(PaymentMethod, "reward_payment_method", 20)
    )
    claim_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("key_groups.id", ondelete="RESTRICT")
    )
    claim_group_version: Mapped[int | None] = mapped_column(Integer)
    claim_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(83))
    payment_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    claim_code_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    # ---- the payment
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    voucher_number: Mapped[str | None] = mapped_column(String(100))
    paid_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_recorded_at: Mapped[dt.datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    # ---- the other ends
    declined_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]


class RewardTransition(Base):
    """The history of a reward: one row per step, numbered per reward (the audit trail has the
    same steps; this is what the reward page lists)."""

    __tablename__ = "reward_transitions"
    __table_args__ = (
        UniqueConstraint("reward_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    reward_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rewards.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[RewardAction] = mapped_column(str_enum(RewardAction, "reward_action"))
    from_state: Mapped[RewardState | None] = mapped_column(
        str_enum(RewardState, "reward_transition_from")
    )
    to_state: Mapped[RewardState] = mapped_column(str_enum(RewardState, "reward_transition_to"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime]


del S
