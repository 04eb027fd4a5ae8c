"""Errors of the reward lifecycle. Messages are English msgids (translated by the sites); none
carries payment details, a claim code, a token or anything a reporter wrote."""

from __future__ import annotations

from core.errors import N_, Conflict, DomainError, Forbidden, InvalidInput, NotFound


class RewardNotFound(NotFound):
    message = N_("This reward does not exist.")


class InvalidRewardTransition(Conflict):
    """The transition table does not allow this step from the reward's current state (or
    another person did it first)."""

    message = N_("This step is not possible in the reward's current state.")


class CalculatorCannotApprove(Forbidden):
    message = N_("You calculated this reward; a second person must approve it.")


class PenaltyDecisionMissing(Conflict):
    message = N_("Record the penalty decision before calculating the reward.")


class PenaltyDecisionInvalid(InvalidInput):
    """A penalty decision that cannot be recorded as given; the message says why."""

    message = N_("The penalty decision is not valid.")


class NoFines(PenaltyDecisionInvalid):
    message = N_("Enter at least one fine, or choose “no penalty”.")


class FinesWithNoPenalty(PenaltyDecisionInvalid):
    message = N_("A decision of “no penalty” has no fines.")


class FineNotPositive(PenaltyDecisionInvalid):
    message = N_("Every fine must be more than 0.")


class TooManyFines(PenaltyDecisionInvalid):
    message = N_("At most %(max)s fines can be added together.")


class DecisionNumberRequired(PenaltyDecisionInvalid):
    message = N_("Enter the decision's document number.")


class DecisionDateRequired(PenaltyDecisionInvalid):
    message = N_("Enter the date of the decision.")


class DecisionDateInFuture(PenaltyDecisionInvalid):
    message = N_("The date cannot be in the future.")


class AccidentDetailsRequired(PenaltyDecisionInvalid):
    message = N_("A concealed accident needs its confirmed grade and the number of deaths.")


class AccidentDetailsNotForHazard(PenaltyDecisionInvalid):
    message = N_("A hazard has no accident grade or deaths.")


class TextInvalid(InvalidInput):
    message = N_("Enter a text of at most %(max)s characters without control characters.")


class UnknownExclusion(InvalidInput):
    message = N_("Unknown exclusion: %(code)s.")


class JointPositionInvalid(InvalidInput):
    message = N_("The position among the signatories of a joint report is 1 or more.")


class OfferTooEarly(Conflict):
    """The conclusion of the tip can still change (the reporter may object, or a re-check is
    running): the reward is offered only on a final conclusion."""

    message = N_(
        "The conclusion is not final yet (the reporter may object until %(date)s, or a re-check "
        "is running). Offer the reward afterwards."
    )


class ClaimWindowClosed(Conflict):
    message = N_("The time to claim this reward has ended.")


class NothingToClaim(Conflict):
    """No offer is open for this report (none yet, or it was claimed, declined or expired)."""

    message = N_("There is no reward offer to claim or decline for this report.")


class ClaimDetailsInvalid(InvalidInput):
    message = N_("The payment details are not complete.")


class AccountNumberInvalid(InvalidInput):
    field = "account_number"
    message = N_("An account number is 8 to 30 digits.")


class FinanceKeyMissing(DomainError):
    """The finance key group does not exist or its key record does not verify; nothing is
    stored (the public site shows "not available now")."""

    status = 503
    message = N_("Claims cannot be received at the moment. Nothing was saved; try again later.")


class PaymentAmountMismatch(InvalidInput):
    message = N_("The amount paid must be the approved amount, %(amount)s yuan.")


class VoucherNumberTaken(Conflict):
    message = N_("This voucher number is already recorded for another payment.")


class ClaimCodeRequired(InvalidInput):
    message = N_("Enter the claim code the reporter shows (collection in person).")


class ClaimCodeWrong(InvalidInput):
    message = N_("The claim code does not match this reward.")


class PaymentDateInvalid(InvalidInput):
    message = N_("The payment date must be between the claim and today.")


class PaymentDetailsDamaged(Conflict):
    message = N_("The payment details cannot be opened: they were changed or damaged.")


class NotInFinanceGroup(Forbidden):
    message = N_(
        "You hold no key of the finance key group. Ask a member of the group to grant it to you."
    )


class FinesNotForAccident(PenaltyDecisionInvalid):
    message = N_("Fines and “no penalty” apply only to a hazard.")
