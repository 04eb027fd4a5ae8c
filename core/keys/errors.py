"""Errors of the key-group layer. Messages are English msgids, translated by the sites; none
ever contains key material, a recovery code or a password."""

from __future__ import annotations

from core.errors import N_, Conflict, DomainError, Forbidden, InvalidInput, NotFound


class KeysNotInitialised(DomainError):
    """The city triage group or the recovery group is missing: nothing can be sealed."""

    status = 503
    message = N_(
        "The key groups are not set up yet (the city triage group or the recovery group is "
        "missing). An administrator must run `qingling keys init-recovery` first."
    )


class KeyRecordRejected(DomainError):
    """A stored public key record is unsigned, wrongly signed or not what was asked for."""

    status = 503
    message = N_(
        "A stored public key failed its signature check. Nothing was sealed to it; tell the "
        "administrators at once."
    )


class KeyRollback(KeyRecordRejected):
    """A stored public key is older than the newest version this site has already seen."""

    message = N_(
        "A stored public key is older than one this site has already used. Nothing was sealed "
        "to it; tell the administrators at once."
    )


class KeyPinsUnreadable(DomainError):
    """The public site's file of newest key versions exists but cannot be read."""

    status = 503
    message = N_(
        "The public site's record of key versions cannot be read. Restore it from a backup or "
        "ask an administrator."
    )


class SigningKeyMissing(DomainError):
    status = 503
    message = N_(
        "The key-record signing key is missing on this host. Run `qingling init` or set "
        "QINGLING_KEY_SIGNING_KEY."
    )


class GroupNotFound(NotFound):
    message = N_("There is no such key group.")


class GroupExists(Conflict):
    message = N_("This key group already exists.")


class RecoveryAlreadyInitialised(Conflict):
    message = N_(
        "The recovery key already exists. It was printed once when it was made; it is never "
        "shown again. To replace it, rotate the recovery group with the current recovery key."
    )


class RecoveryNotGrantable(Conflict):
    message = N_(
        "Nobody is a member of the recovery group: its private key exists only on the printed "
        "recovery sheet."
    )


class NotAMember(Forbidden):
    message = N_("Only a current member of this key group, or the recovery key, can do this.")


class UserNotMember(Conflict):
    message = N_("This user is not a member of the key group.")


class AlreadyMember(Conflict):
    message = N_("This user is already a member of the key group.")


class RoleDoesNotFit(Forbidden):
    message = N_(
        "This user's roles do not fit the key group (a triage group needs a triage officer "
        "whose scope covers it; the finance group needs a finance officer or approver)."
    )


class GranteeNotReady(Conflict):
    message = N_(
        "This user cannot receive keys yet: the account must be active and its owner must "
        "have chosen their own password."
    )


class WrongRecoveryKey(InvalidInput):
    message = N_("This is not the current recovery key.")


class NoPersonalKey(Conflict):
    message = N_("Your personal key is not available in this session. Log out and log in again.")


class PersonalKeyLocked(DomainError):
    """The personal key did not open with the given password-derived key."""

    status = 500
    message = N_("Your personal key could not be opened. Ask an administrator.")


class WrongRecoveryCode(InvalidInput):
    message = N_("The user name, recovery code or authenticator code is wrong.")


class KeyIntegrityError(DomainError):
    """A sealed key opened but does not belong to its signed public key (tampering)."""

    status = 500
    message = N_(
        "A stored key does not match its signed public key. Nothing was changed; tell the "
        "administrators at once."
    )


class SealedKeyRejected(DomainError):
    """A sealed data key did not open with the group key it names (wrong tip, group or
    version, or tampering)."""

    status = 500
    message = N_("A sealed key could not be opened. Nothing was shown; tell the administrators.")
