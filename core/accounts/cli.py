"""``qingling create-user`` and ``qingling demo``: staff accounts from the command line.

Passwords, recovery codes, TOTP secrets and the demo's recovery key are printed once, to the
terminal that asked for them, and never logged. Whoever runs these commands has the server's
secrets anyway; the audit trail records the accounts as created by the system.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.cli import Context, pass_context
from core.clock import SystemClock
from registry.models import Division
from registry.services import load_demo_facilities


def _resolve_division(session: Session, value: str | None) -> int | None:
    """A division given by id, by name or by English name; None means the whole city."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        division = session.get(Division, int(text))
    else:
        division = session.scalar(
            select(Division).where((Division.name == text) | (Division.name_en == text))
        )
    if division is None:
        names = ", ".join(session.scalars(select(Division.name).order_by(Division.sort_order)))
        raise click.BadParameter(
            f"no division {text!r}; known divisions: {names}", param_hint="--division"
        )
    return division.id


@click.command("create-user")
@click.option("--username", required=True, help="3 to 64 characters: a-z 0-9 . _ -")
@click.option("--name", "display_name", required=True, help="Name shown to colleagues.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="A role; repeat for several.",
)
@click.option(
    "--division",
    default=None,
    help="Division name or id for a division-scoped user; omit for the whole city.",
)
@click.option(
    "--generate-password",
    is_flag=True,
    help="Generate a passphrase and print it once instead of prompting.",
)
@pass_context
def create_user(
    ctx: Context,
    *,
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    division: str | None,
    generate_password: bool,
) -> None:
    """Create a staff user. The authenticator app is set up at the first login."""
    if generate_password:
        password = accounts.suggest_passphrase(username=username, display_name=display_name)
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.unit_of_work() as session:
        user = accounts.create_user(
            session,
            SystemClock(),
            ctx.settings,
            SYSTEM_ACTOR,
            username=username,
            display_name=display_name,
            password=password,
            roles={Role(r) for r in roles},
            division_id=_resolve_division(session, division),
        )
        created = user.username
        recovery_code = accounts.new_recovery_code(
            session, SystemClock(), ctx.settings, user, password=password
        )
    click.echo(f"created user {created}")
    if generate_password:
        click.echo(f"password (shown once): {password}")
    click.echo(f"recovery code (shown once, for {created} alone): {recovery_code}")
    click.echo("the authenticator app is set up at the first login")
    click.echo(
        "the new user belongs to no key group until a member grants access "
        "(qingling keys grant USER GROUP --member NAME)"
    )


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    roles: frozenset[Role]
    division: str | None  # division name; None for the whole city


DEMO_DIVISION = "杨舍镇"
# Key groups the demo accounts are granted with the demo's recovery key.
DEMO_GRANTS = (
    ("demo.triage", "triage:city"),
    ("demo.triage.yangshe", f"triage:{DEMO_DIVISION}"),
    ("demo.finance", "finance"),
    ("demo.approver", "finance"),
)
DEMO_ACCOUNTS = (
    DemoAccount("demo.triage", "Demo City Triage", frozenset({Role.TRIAGE_OFFICER}), None),
    DemoAccount(
        "demo.triage.yangshe",
        "Demo Yangshe Triage",
        frozenset({Role.TRIAGE_OFFICER}),
        DEMO_DIVISION,
    ),
    DemoAccount("demo.case", "Demo Case Officer", frozenset({Role.CASE_OFFICER}), DEMO_DIVISION),
    DemoAccount("demo.finance", "Demo Finance Officer", frozenset({Role.FINANCE_OFFICER}), None),
    DemoAccount("demo.approver", "Demo Finance Approver", frozenset({Role.FINANCE_APPROVER}), None),
    DemoAccount("demo.supervisor", "Demo Supervisor", frozenset({Role.SUPERVISOR}), None),
    DemoAccount("demo.admin", "Demo Administrator", frozenset({Role.ADMINISTRATOR}), None),
    DemoAccount("demo.auditor", "Demo Auditor", frozenset({Role.AUDITOR}), None),
)


@click.command("demo")
@pass_context
def demo(ctx: Context) -> None:
    """Create demo staff accounts for every role and the key groups (with a recovery key, when
    there are none yet), grant the demo triage and finance staff their groups, add made-up
    facilities to the registry, and print every credential once."""
    from core.keys import cli as keys_cli

    clock = SystemClock()
    printed: list[tuple[str, str, str, str, str]] = []
    created: dict[str, User] = {}
    with ctx.unit_of_work() as session:
        names = [a.username for a in DEMO_ACCOUNTS]
        existing = list(session.scalars(select(User.username).where(User.username.in_(names))))
        if existing:
            click.echo(
                f"the demo accounts already exist ({', '.join(sorted(existing))}); their "
                "passwords and TOTP secrets were shown once when they were created"
            )
            return
        for account in DEMO_ACCOUNTS:
            password = accounts.suggest_passphrase(
                username=account.username, display_name=account.display_name
            )
            user = accounts.create_user(
                session,
                clock,
                ctx.settings,
                SYSTEM_ACTOR,
                username=account.username,
                display_name=account.display_name,
                password=password,
                roles=set(account.roles),
                division_id=_resolve_division(session, account.division),
            )
            secret = accounts.enrol_totp_seed(session, clock, ctx.settings, user)
            code = accounts.new_recovery_code(session, clock, ctx.settings, user, password=password)
            created[user.username] = user
            printed.append((user.username, password, secret, accounts.totp_uri(user, secret), code))
        sheet = keys_cli.demo_groups(
            session, ctx, [(created[name], group) for name, group in DEMO_GRANTS]
        )
        facilities = load_demo_facilities(session, clock, SYSTEM_ACTOR)
    click.echo(f"demo facilities: {facilities} added")
    click.echo("demo accounts (shown once; keep them somewhere safe or run on a demo instance):")
    for username, password, secret, uri, code in printed:
        click.echo("")
        click.echo(f"  user name:     {username}")
        click.echo(f"  password:      {password}")
        click.echo(f"  TOTP secret:   {secret}")
        click.echo(f"  TOTP URI:      {uri}")
        click.echo(f"  recovery code: {code}")
    click.echo("")
    if sheet is None:
        click.echo(
            "the key groups already existed: grant the demo accounts with "
            "`qingling keys grant USER GROUP`"
        )
        return
    click.echo("key groups: " + ", ".join(f"{name} → {group}" for name, group in DEMO_GRANTS))
    click.echo("")
    keys_cli.print_recovery_sheet(sheet, str(ctx.settings.data_dir))


COMMANDS: list[click.Command] = [create_user, demo]
