"""The reporter's side of a reward: what the status page shows, the claim and the decline.

The reporter is anonymous and stays so. A claim is made inside a reporter session
(:class:`~intake.access.ReporterAccess`) *and* with the tracking token typed again — someone who
finds an open session on a shared device must not be able to send the reward to their own
account or decline it. The reporter chooses

* **bank transfer**: account name, bank and account number; or
* **collection in person**: a claim code of 20 digits is generated, shown once in the response,
  and stored only as a hash; finance checks it when the reporter collects.

The payment details are encrypted under a fresh random claim key (FIELD envelope: kind
``"claim"``, object the reward id, field ``"payment"``, bound to the tip), and that key is sealed
with HPKE to the **finance key group only** — not to triage, not to the reporter's token. The
finance group's key record is checked against the pinned verifying key and the version pins
first, as intake does for tips, so a database writer cannot redirect a claim to a key of their
own. The SHA-256 of both envelopes goes into the audit chain, and finance checks them before
opening, so the details cannot be swapped afterwards either.

Of two claims (or a claim and a decline) arriving at once, the row lock lets one through; the
other finds no open offer.

Both present the reporter proof before writing (``intake.access.present_reporter_proof``): on
PostgreSQL the public site's role cannot claim or decline an offer without it, so a compromised
public host cannot claim the reward of a tip whose token it never saw (migration 0008).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.audit.services import REPORTER_ACTOR
from core.clock import Clock, HourClock, hour_of
from core.keys import records
from core.keys import services as keys
from core.keys.errors import KeyRecordRejected
from core.keys.pins import KeyPins
from core.keys.types import Recipient
from core.settings import Settings
from crypto import envelope, signing
from intake import errors as intake_errors
from intake.access import ReporterAccess, present_reporter_proof
from intake.services import unlock_with_token
from rewards import errors
from rewards.models import PaymentMethod, Reward, RewardAction, RewardState
from rewards.services.common import reward_of_tip, transition
from rewards.services.lifecycle import claim_code_hash
from triage.deadlines import last_day, local_date

#: FIELD binding of the payment details: kind, field (object: the reward id, tip: the tip id).
CLAIM_KIND = "claim"
PAYMENT_FIELD = "payment"
ACCOUNT_NAME_MAX = 100
BANK_MAX = 100
ACCOUNT_DIGITS_MIN = 8
ACCOUNT_DIGITS_MAX = 30
#: Digits of a claim code: 10**20 codes, about 66 bits.
CLAIM_CODE_DIGITS = 20


# ---------------------------------------------------------------- what the reporter sees


class ReporterRewardState(enum.StrEnum):
    """The reward in the reporter's terms (the sites word each one)."""

    CONSIDERING = "considering"  # a reward is being worked out (no amount shown yet)
    NOT_ELIGIBLE = "not_eligible"
    OFFERED = "offered"
    CLAIMED = "claimed"
    PAID = "paid"
    EXPIRED = "expired"
    DECLINED = "declined"


_PLAIN = {
    RewardState.AWAITING_PENALTY_DECISION: ReporterRewardState.CONSIDERING,
    RewardState.CALCULATED: ReporterRewardState.CONSIDERING,
    RewardState.APPROVED: ReporterRewardState.CONSIDERING,
    RewardState.NOT_ELIGIBLE: ReporterRewardState.NOT_ELIGIBLE,
    RewardState.OFFERED: ReporterRewardState.OFFERED,
    RewardState.CLAIMED: ReporterRewardState.CLAIMED,
    RewardState.PAID: ReporterRewardState.PAID,
    RewardState.EXPIRED: ReporterRewardState.EXPIRED,
    RewardState.DECLINED: ReporterRewardState.DECLINED,
}


@dataclass(frozen=True)
class ReporterReward:
    """What a reporter holding the token may see of the reward of their report. The amount
    is shown from the offer on (before, it is not final); dates are local dates."""

    state: ReporterRewardState
    amount_fen: int | None
    offered_on: dt.date | None
    #: The last day to claim (while offered, and afterwards for the record).
    claim_deadline: dt.date | None
    #: Whole days left after today to claim (0: today is the last day); None unless offered.
    days_left: int | None
    #: The deadline is near (within ``reminder_days``): the page says so prominently.
    remind: bool
    #: An offer that can be claimed or declined now.
    can_claim: bool
    claimed_on: dt.date | None
    payment_method: PaymentMethod | None
    paid_on: dt.date | None
    #: Declined or expired on.
    ended_on: dt.date | None


def reporter_offer(
    session: Session, clock: Clock, tip_id: uuid.UUID, *, reminder_days: int = 14
) -> ReporterReward | None:
    """The reward of ``tip_id`` as its reporter sees it, or None if it has none. The caller
    has proved the token (a :class:`ReporterAccess` for this tip). Not audited: a record of
    when a reporter looks would itself be metadata about them."""
    reward = reward_of_tip(session, tip_id)
    if reward is None:
        return None
    state = _PLAIN[reward.state]
    now = clock.now()
    shown = state not in {ReporterRewardState.CONSIDERING, ReporterRewardState.NOT_ELIGIBLE}
    deadline = reward.claim_deadline
    days_left = None
    can_claim = False
    if reward.state is RewardState.OFFERED and deadline is not None:
        can_claim = now < deadline
        days_left = max(0, (last_day(deadline) - local_date(now)).days) if can_claim else 0
    ended = reward.declined_at or reward.expired_at
    return ReporterReward(
        state=state,
        amount_fen=reward.amount_fen if shown else None,
        offered_on=None if reward.offered_at is None else local_date(reward.offered_at),
        claim_deadline=None if deadline is None or not shown else last_day(deadline),
        days_left=days_left,
        remind=can_claim and days_left is not None and days_left <= reminder_days,
        can_claim=can_claim,
        claimed_on=None if reward.claimed_at is None else local_date(reward.claimed_at),
        payment_method=reward.payment_method,
        paid_on=reward.paid_on,
        ended_on=None if ended is None else local_date(ended),
    )


# ---------------------------------------------------------------- claim input


@dataclass(frozen=True)
class ClaimDetails:
    """How the reporter wants to be paid. Never logged: ``repr`` shows only the method."""

    method: PaymentMethod
    account_name: str = field(default="", repr=False)
    bank: str = field(default="", repr=False)
    account_number: str = field(default="", repr=False)


@dataclass(frozen=True)
class ClaimReceipt:
    """What the reporter gets back. Show ``claim_code`` once, in the response itself (never in
    a cookie, a flash message, a URL or a log)."""

    method: PaymentMethod
    claim_code: str | None = field(repr=False)


def _line(value: str, maximum: int) -> str:
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text or len(text) > maximum:
        raise errors.ClaimDetailsInvalid()
    if any(unicodedata.category(c) in {"Cc", "Cf"} for c in text):
        raise errors.ClaimDetailsInvalid()
    return text


def account_digits(value: str) -> str:
    """An account number as digits: full-width digits, spaces and dashes forgiven."""
    folded = unicodedata.normalize("NFKC", value or "")
    kept = "".join(c for c in folded if c not in " -\t")
    if not kept.isascii() or not kept.isdigit():
        raise errors.AccountNumberInvalid()
    if not ACCOUNT_DIGITS_MIN <= len(kept) <= ACCOUNT_DIGITS_MAX:
        raise errors.AccountNumberInvalid()
    return kept


def checked_details(details: ClaimDetails) -> dict[str, str]:
    """The payload that is sealed, from validated details."""
    method = PaymentMethod(details.method)
    if method is PaymentMethod.IN_PERSON:
        return {"method": method.value}
    return {
        "method": method.value,
        "account_name": _line(details.account_name, ACCOUNT_NAME_MAX),
        "bank": _line(details.bank, BANK_MAX),
        "account_number": account_digits(details.account_number),
    }


def format_claim_code(digits: str) -> str:
    """20 digits in five groups of four (``3829-1047-5521-0936-4418``)."""
    return "-".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def new_claim_code() -> str:
    return f"{secrets.randbelow(10**CLAIM_CODE_DIGITS):0{CLAIM_CODE_DIGITS}d}"


# ---------------------------------------------------------------- the finance key


def finance_recipient(session: Session, settings: Settings, pins: KeyPins) -> Recipient:
    """The finance key group's current public key, checked against its signed key record with
    the pinned ``settings.key_verifying_key`` and against the newest version this site has
    seen (``pins``); :class:`FinanceKeyMissing` if the group is missing or any check fails."""
    verifying_key = settings.key_verifying_key
    group = keys.find_group(session, keys.FINANCE)
    if group is None or not verifying_key:
        raise errors.FinanceKeyMissing()
    try:
        key = keys.current_key(session, group)
        record = signing.KeyRecord(
            group.id, records.group_purpose(group.slug), key.version, key.public_key
        )
        records.verify(verifying_key, record, key.signature)
    except KeyRecordRejected:
        raise errors.FinanceKeyMissing() from None
    if key.version < pins.minimum(group.slug):
        raise errors.FinanceKeyMissing()
    pins.observe(group.slug, key.version)
    return Recipient(group.id, key.version, key.public_key)


# ---------------------------------------------------------------- claim and decline


def _check_token(
    session: Session, settings: Settings, access: ReporterAccess, token_text: str
) -> None:
    """The token typed again opens this session's tip (a typo is said before any derivation;
    another tip's token is refused like an unknown one)."""
    other = unlock_with_token(session, settings, token_text)
    if other.tip_id != access.tip_id:
        raise intake_errors.UnknownToken()


def _open_offer(session: Session, clock: Clock, access: ReporterAccess) -> Reward:
    """The tip's reward under its row lock, which must be an offer still open; the reporter
    proof presented for the writes that follow (``intake.access.present_reporter_proof``)."""
    reward = reward_of_tip(session, access.tip_id, lock=True)
    if reward is None or reward.state is not RewardState.OFFERED:
        raise errors.NothingToClaim()
    if reward.claim_deadline is None or clock.now() >= reward.claim_deadline:
        raise errors.ClaimWindowClosed()
    present_reporter_proof(session, access)
    return reward


def claim_reward(
    session: Session,
    clock: Clock,
    settings: Settings,
    access: ReporterAccess,
    *,
    token_text: str,
    details: ClaimDetails,
    pins: KeyPins,
) -> ClaimReceipt:
    """offered → claimed, by the reporter: the token typed again, the payment details sealed
    to the finance group, a claim code for collection in person. Before the end of the claim
    deadline's last day (:class:`ClaimWindowClosed`); :class:`NothingToClaim` without an open
    offer (none, or already claimed, declined or expired)."""
    payload = checked_details(details)
    _check_token(session, settings, access, token_text)
    reward = _open_offer(session, clock, access)
    recipient = finance_recipient(session, settings, pins)
    method = PaymentMethod(payload["method"])
    claim_key = envelope.new_data_key()
    payment_enc = envelope.encrypt_text(
        claim_key,
        json.dumps(payload, ensure_ascii=False, sort_keys=True),
        tip_id=reward.tip_id,
        kind=CLAIM_KIND,
        object_id=reward.id,
        field_name=PAYMENT_FIELD,
    )
    sealed = envelope.seal_data_key(
        recipient.public_key,
        claim_key,
        tip_id=reward.tip_id,
        group_id=recipient.group_id,
        group_version=recipient.version,
    )
    code = new_claim_code() if method is PaymentMethod.IN_PERSON else None
    reward.claimed_at = hour_of(clock.now())
    reward.payment_method = method
    reward.claim_group_id = recipient.group_id
    reward.claim_group_version = recipient.version
    reward.claim_key_sealed = sealed
    reward.payment_enc = payment_enc
    reward.claim_code_hash = None if code is None else claim_code_hash(reward.id, code)
    transition(
        session,
        HourClock(clock),
        REPORTER_ACTOR,
        reward,
        action=RewardAction.CLAIM,
        target=RewardState.CLAIMED,
        details={
            "method": method.value,
            "group": recipient.group_id,
            "group_version": recipient.version,
            "payment_sha256": records.envelope_sha256(payment_enc),
            "claim_key_sha256": records.envelope_sha256(sealed),
        },
    )
    return ClaimReceipt(method, None if code is None else format_claim_code(code))


def decline_reward(
    session: Session,
    clock: Clock,
    settings: Settings,
    access: ReporterAccess,
    *,
    token_text: str,
) -> None:
    """offered → declined, by the reporter (the token typed again). Final."""
    _check_token(session, settings, access, token_text)
    reward = _open_offer(session, clock, access)
    reward.declined_at = hour_of(clock.now())
    transition(
        session,
        HourClock(clock),
        REPORTER_ACTOR,
        reward,
        action=RewardAction.DECLINE,
        target=RewardState.DECLINED,
    )


__all__ = [
    "CLAIM_KIND",
    "PAYMENT_FIELD",
    "ClaimDetails",
    "ClaimReceipt",
    "ReporterReward",
    "ReporterRewardState",
    "claim_reward",
    "decline_reward",
    "finance_recipient",
    "reporter_offer",
]
