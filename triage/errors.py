"""Errors of the triage services. Messages are English msgids (translated by the sites); none
carries anything a reporter or an officer wrote, or key material."""

from __future__ import annotations

from core.errors import N_, Conflict, Forbidden, InvalidInput, NotFound


class TipNotFound(NotFound):
    message = N_("This report does not exist.")


class InvalidTransition(Conflict):
    """The transition table does not allow this step from the tip's current state."""

    message = N_("This step is not possible in the report's current state.")


class NoTipKey(Forbidden):
    """Role and scope allow the read, but the officer holds no key of a group the tip was
    sealed to (not yet granted, or granted after a rotation the tip predates)."""

    message = N_(
        "You hold no key that opens this report. Ask a member of your triage key group to "
        "grant you the group's key."
    )


class TextRequired(InvalidInput):
    message = N_("Enter a text.")


class TextTooLong(InvalidInput):
    message = N_("This text is too long: at most %(max)s characters.")


class ExtensionTooLong(InvalidInput):
    message = N_("An extension is 1 to %(max)s days.")


class AlreadyExtended(Conflict):
    message = N_("The verification deadline has already been extended once.")


class DeadlinePassed(Conflict):
    message = N_("The deadline has passed; it can no longer be extended.")


class ObjectionWindowOpen(Conflict):
    """Closing before the reporter's objection window has ended."""

    message = N_("The reporter can still object until %(date)s; close the report after that.")


class ObjectionNotPossible(Conflict):
    message = N_("An objection is not possible for this report now.")


class ObjectionWindowClosed(ObjectionNotPossible):
    message = N_("The time to object to this conclusion has ended.")


class AlreadyObjected(ObjectionNotPossible):
    message = N_("An objection to this conclusion has already been made.")


class ReplyNotPossible(Conflict):
    message = N_("This report is closed; no more messages can be sent.")


class DuplicateOfItself(InvalidInput):
    message = N_("A report cannot be a duplicate of itself.")


class DuplicateNotEarlier(InvalidInput):
    message = N_("A report can only be marked as a duplicate of an earlier report.")


class DuplicateCycle(InvalidInput):
    message = N_("These reports are already linked the other way round.")


class DuplicateOriginalNotHandled(InvalidInput):
    message = N_("Link duplicates to a report that has been accepted.")


class BadCursor(InvalidInput):
    message = N_("This page link is not valid any more. Start again from the first page.")


class BadPageSize(InvalidInput):
    message = N_("A page holds 1 to %(max)s reports.")


class TextHasControlCharacters(InvalidInput):
    message = N_("This text contains control characters (such as NUL) that cannot be stored.")


class TextUnreadable(InvalidInput):
    """A lone surrogate (JSON's ``"\\ud800"``): it cannot be encoded, stored or shown."""

    message = N_("Part of this text could not be read (it was not sent as UTF-8). Type it again.")
