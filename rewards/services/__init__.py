"""Reward lifecycle services, one module per noun (every public name is re-exported here, so
``from rewards import services as rewards`` and ``rewards.approve(...)`` work):

* :mod:`~rewards.services.workflow` — the transition table, as data;
* :mod:`~rewards.services.lifecycle` — one function per staff transition, and
  :func:`tip_concluded`, which triage calls when it concludes a tip;
* :mod:`~rewards.services.claims` — what the reporter sees, the claim and the decline;
* :mod:`~rewards.services.finance` — lists, totals, the Excel export, the payment details;
* :mod:`~rewards.services.common` — access rules, loading, recording a transition.

Staff services take ``(session, clock, settings, actor: User, reward_id, …)``; reporter
services take a :class:`~intake.access.ReporterAccess` and the token typed again. None commits;
each raises typed errors (``rewards.errors``, ``core.errors.Forbidden``).
"""

from __future__ import annotations

from rewards.services.claims import (
    ClaimDetails,
    ClaimReceipt,
    ReporterReward,
    ReporterRewardState,
    claim_reward,
    decline_reward,
    finance_recipient,
    reporter_offer,
)
from rewards.services.common import can_read_rewards
from rewards.services.finance import (
    HistoryEntry,
    MonthTotal,
    PaymentDetails,
    RewardDetail,
    RewardFilters,
    RewardPage,
    StateTotal,
    TipFacts,
    export_workbook,
    list_rewards,
    monthly_totals,
    open_payment_details,
    reward_detail,
    reward_of_tip_for,
    state_totals,
)
from rewards.services.lifecycle import (
    Payment,
    PenaltyDecision,
    approve,
    calculate,
    offer,
    record_payment,
    record_penalty_decision,
    send_back,
    tip_concluded,
    yuan_text,
)

__all__ = [
    "ClaimDetails",
    "ClaimReceipt",
    "HistoryEntry",
    "MonthTotal",
    "Payment",
    "PaymentDetails",
    "PenaltyDecision",
    "ReporterReward",
    "ReporterRewardState",
    "RewardDetail",
    "RewardFilters",
    "RewardPage",
    "StateTotal",
    "TipFacts",
    "approve",
    "calculate",
    "can_read_rewards",
    "claim_reward",
    "decline_reward",
    "export_workbook",
    "finance_recipient",
    "list_rewards",
    "monthly_totals",
    "offer",
    "open_payment_details",
    "record_payment",
    "record_penalty_decision",
    "reporter_offer",
    "reward_detail",
    "reward_of_tip_for",
    "send_back",
    "state_totals",
    "tip_concluded",
    "yuan_text",
]
