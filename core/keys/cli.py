"""``qingling keys …``: the recovery key, key groups, grants, rotation and fingerprints.

Run on the staff side (the commands sign key records with ``QINGLING_KEY_SIGNING_KEY``). The
recovery key is printed once, by ``init-recovery`` (and by ``rotate recovery``), as a sheet to
print and lock away; it is never stored on the server. A grant or a removal needs a member of
the group (``--member NAME``, whose password is prompted for) or the recovery key
(``--recovery-key-file PATH``, ``-`` for standard input).
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from core.accounts import services as accounts
from core.accounts.models import User
from core.audit.services import SYSTEM_ACTOR
from core.cli import Context, pass_context
from core.clock import SHANGHAI, SystemClock
from core.keys import services as keys
from core.keys.errors import GroupNotFound
from core.keys.models import KeyGroup

RECOVERY_INSTRUCTIONS = """\
Print this sheet now (or write the key down by hand), check it against the screen, and lock it
away offline: a safe, two copies in different places. Clear the terminal afterwards. It is not
stored anywhere on the server and is never shown again.

This key reads every tip and can give any key group's key to a staff member (for example after
an administrator's password reset, or when every member of a group has left). To use it:
  qingling keys grant USER GROUP --recovery-key-file -     (then type or paste the key)
Anyone who holds this sheet and a copy of the database can read every tip."""


def _user(session: Session, name: str) -> User:
    user = accounts.find_user(session, name)
    if user is None:
        raise click.BadParameter(f"no user {name!r}", param_hint="USER")
    return user


def _group(session: Session, name: str) -> KeyGroup:
    try:
        return keys.resolve_group(session, name)
    except GroupNotFound:
        raise click.BadParameter(
            f"no key group {name!r}; names look like recovery, finance, triage:city, "
            "triage:<division name or id> (see `qingling keys fingerprints`)",
            param_hint="GROUP",
        ) from None


def _read_recovery_key(path: str) -> bytes:
    if path == "-":
        if sys.stdin.isatty():
            text = click.prompt("Recovery key", hide_input=True)
        else:
            text = sys.stdin.read()
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--recovery-key-file"
            ) from None
    return keys.parse_recovery_key(text)


def _authority(
    session: Session, ctx: Context, member: str | None, recovery_key_file: str | None
) -> keys.Authority:
    if (member is None) == (recovery_key_file is None):
        raise click.UsageError("give either --member NAME or --recovery-key-file PATH")
    if recovery_key_file is not None:
        return keys.RecoveryAuthority(_read_recovery_key(recovery_key_file))
    assert member is not None  # noqa: S101 - checked just above
    user = _user(session, member)
    password = click.prompt(f"Password of {user.username}", hide_input=True, err=True)
    private = accounts.personal_key_with_password(
        session, SystemClock(), ctx.settings, user, password=password
    )
    return keys.MemberAuthority(user, private)


def print_recovery_sheet(sheet: keys.RecoverySheet, instance: str) -> None:
    created = sheet.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M %Z")
    click.echo("=" * 72)
    click.echo("QINGLING RECOVERY KEY (shown once)")
    click.echo("=" * 72)
    click.echo(f"instance:      {instance}")
    click.echo(f"created:       {created}")
    click.echo(f"version:       {sheet.version}")
    click.echo(f"fingerprint:   {sheet.fingerprint}")
    click.echo("recovery key:")
    groups = sheet.key_text.split("-")
    for i in range(0, len(groups), 5):
        click.echo("    " + "  ".join(groups[i : i + 5]))
    click.echo("")
    click.echo(RECOVERY_INSTRUCTIONS)
    click.echo("=" * 72)


@click.group(name="keys")
def keys_group() -> None:
    """Key groups: the recovery key, grants, rotation, fingerprints."""


@keys_group.command("init-recovery")
@pass_context
def init_recovery(ctx: Context) -> None:
    """Create the recovery group and the standard groups; print the recovery key ONCE."""
    with ctx.unit_of_work() as session:
        sheet, created = keys.init_recovery(session, SystemClock(), ctx.settings, SYSTEM_ACTOR)
        labels = [keys.group_label(session, g) for g in created]
    click.echo(f"created key groups: recovery, {', '.join(labels)}")
    click.echo("")
    print_recovery_sheet(sheet, str(ctx.settings.data_dir))


@keys_group.command("add-groups")
@pass_context
def add_groups(ctx: Context) -> None:
    """Create any missing standard group (e.g. the triage group of a new division)."""
    with ctx.unit_of_work() as session:
        created = keys.ensure_standard_groups(session, SystemClock(), ctx.settings, SYSTEM_ACTOR)
        labels = [keys.group_label(session, g) for g in created]
    click.echo(f"created key groups: {', '.join(labels)}" if labels else "no group was missing")


@keys_group.command("fingerprints")
@pass_context
def fingerprints(ctx: Context) -> None:
    """Every group's current version, fingerprint, signature status and member count."""
    with ctx.unit_of_work() as session:
        rows = keys.fingerprints(session, ctx.settings)
    if not rows:
        click.echo("no key groups yet: run `qingling keys init-recovery`")
        return
    bad = 0
    for row in rows:
        status = "signature OK" if row.signature_ok else "SIGNATURE BAD"
        bad += not row.signature_ok
        click.echo(
            f"{row.label:<24} v{row.version:<3} {row.fingerprint}  {status}  members: {row.members}"
        )
    if bad:
        raise click.ClickException(f"{bad} key record(s) fail the signature check")


@keys_group.command("rotate")
@click.argument("group")
@click.option(
    "--recovery-key-file",
    default=None,
    help="For `rotate recovery` only: the current recovery key (- for standard input).",
)
@pass_context
def rotate(ctx: Context, group: str, recovery_key_file: str | None) -> None:
    """Give GROUP a new key version (sealed to its current members and the recovery group)."""
    clock = SystemClock()
    with ctx.unit_of_work() as session:
        target = _group(session, group)
        if target.slug == keys.RECOVERY:
            if recovery_key_file is None:
                raise click.UsageError("rotating the recovery key needs --recovery-key-file")
            old = _read_recovery_key(recovery_key_file)
            sheet = keys.rotate_recovery(session, clock, ctx.settings, SYSTEM_ACTOR, old)
        else:
            sheet = None
            key = keys.rotate(session, clock, ctx.settings, SYSTEM_ACTOR, target)
            label = keys.group_label(session, target)
            version = key.version
    if sheet is not None:
        click.echo("the recovery key was replaced; the old sheet can be destroyed")
        print_recovery_sheet(sheet, str(ctx.settings.data_dir))
    else:
        click.echo(f"{label}: now at version {version}")


@keys_group.command("grant")
@click.argument("user")
@click.argument("group")
@click.option("--member", default=None, help="A current member who grants (password prompted).")
@click.option(
    "--recovery-key-file", default=None, help="The recovery key instead (- for standard input)."
)
@pass_context
def grant(
    ctx: Context, user: str, group: str, member: str | None, recovery_key_file: str | None
) -> None:
    """Seal GROUP's current key to USER."""
    with ctx.unit_of_work() as session:
        target = _group(session, group)
        grantee = _user(session, user)
        authority = _authority(session, ctx, member, recovery_key_file)
        row = keys.grant(session, SystemClock(), ctx.settings, authority, target, grantee=grantee)
        label = keys.group_label(session, target)
        done = f"{grantee.username} is now a member of {label} (version {row.group_version})"
    click.echo(done)


@keys_group.command("revoke")
@click.argument("user")
@click.argument("group")
@click.option("--member", default=None, help="A current member who removes (password prompted).")
@click.option(
    "--recovery-key-file", default=None, help="The recovery key instead (- for standard input)."
)
@pass_context
def revoke(
    ctx: Context, user: str, group: str, member: str | None, recovery_key_file: str | None
) -> None:
    """Remove USER from GROUP and rotate its key. What USER could read before stays readable
    to them; tips that arrive afterwards are sealed to the new version only."""
    with ctx.unit_of_work() as session:
        target = _group(session, group)
        removed = _user(session, user)
        authority = _authority(session, ctx, member, recovery_key_file)
        key = keys.revoke(session, SystemClock(), ctx.settings, authority, target, member=removed)
        label = keys.group_label(session, target)
        done = f"{removed.username} removed from {label}; the key is now at version {key.version}"
    click.echo(done)


def demo_groups(
    session: Session, ctx: Context, grants: list[tuple[User, str]]
) -> keys.RecoverySheet | None:
    """For ``qingling demo``: create the groups and the recovery key if there are none yet,
    and grant each (user, group name) with the recovery key. None if the groups existed."""
    clock = SystemClock()
    if keys.find_group(session, keys.RECOVERY) is not None:
        return None
    sheet, _ = keys.init_recovery(session, clock, ctx.settings, SYSTEM_ACTOR)
    authority = keys.RecoveryAuthority(sheet.private_key)
    for user, name in grants:
        keys.grant(
            session, clock, ctx.settings, authority, keys.resolve_group(session, name), grantee=user
        )
    return sheet


COMMANDS: list[click.Command] = [keys_group]
