"""``qingling rewards …``: reward quotes from the command line.

``qingling rewards quote`` prints one JSON object on one line::

    {"amount_fen": 300000, "rule_set": "national-2018", "rule": "hazard_penalty",
     "explanation": ["…", …]}

and exits 0. The explanation is in Chinese unless ``--lang en`` is given; the shape is the same.

Where the rule sets come from: the shipped ones (``rewards/rules/data``) always, plus the
versions an administrator added when the instance has a database. Before ``qingling init``
(no SQLite file yet, or no rule-set table) the shipped rule sets are enough for the default
national quote, and a note on stderr says so; the command never creates a database file.
``--shipped-only`` skips the database on purpose. A database that is configured but cannot be
reached is an error (the quote might otherwise silently use an older version).

Exit status: 0 with the JSON; 1 when the input is possible but cannot be quoted (unknown rule
set, none in force on the day, no amount for the grade under that rule set, the database cannot
be reached); 2 when the input itself is impossible (a negative fine, three decimals, no deaths,
an unknown grade, fines for an accident, a missing or contradictory option). Errors go to stderr.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.clock import SystemClock
from core.errors import DomainError
from core.settings import SettingsError, load
from rewards.rules import QuoteInput, calculate, rule_set_in_force
from rewards.rules.calculation import QuoteKind, parse_yuan
from rewards.rules.errors import QuoteInputInvalid
from rewards.rules.rule_sets import EXCLUSION_CODES, GRADE_NAMES, MAX_FEN, RuleSet
from rewards.rules.services import local_today


@click.group(name="rewards")
def rewards_group() -> None:
    """Reward rules: quote a reward from the command line."""


def _fen(raw: str) -> int:
    try:
        return parse_yuan(raw)
    except QuoteInputInvalid as exc:
        hint = " (use --no-penalty when there was none)" if "more than ¥0" in exc.message else ""
        raise click.BadParameter(
            (exc.message % exc.params).rstrip(".") + hint, param_hint="--penalty-yuan"
        ) from None


def _quote_input(
    *,
    kind: str,
    penalties: tuple[str, ...],
    no_penalty: bool,
    grade: str | None,
    deaths: int | None,
    exclusions: tuple[str, ...],
    not_earliest: bool,
    joint_position: int | None,
) -> QuoteInput:
    """Check the combination of options and build the calculation input (UsageError, exit 2,
    for an impossible one)."""
    if kind == "hazard":
        if grade is not None or deaths is not None:
            raise click.UsageError("--grade and --deaths apply only to --kind concealed-accident")
        if no_penalty and penalties:
            raise click.UsageError("--no-penalty cannot be combined with --penalty-yuan")
        if not no_penalty and not penalties:
            raise click.UsageError(
                "--kind hazard needs --penalty-yuan AMOUNT (repeat it to add fines together), "
                "or --no-penalty when the hazard was rectified without a penalty"
            )
        fines = tuple(_fen(p) for p in penalties)
        if sum(fines) > MAX_FEN:
            raise click.BadParameter("the fines add up to too much", param_hint="--penalty-yuan")
        quote_kind: QuoteKind = "hazard"
    else:
        if penalties or no_penalty:
            raise click.UsageError("--penalty-yuan and --no-penalty apply only to --kind hazard")
        if grade is None:
            raise click.UsageError(
                "--kind concealed-accident needs --grade " + "|".join(GRADE_NAMES)
            )
        if deaths is None:
            raise click.UsageError("--kind concealed-accident needs --deaths N")
        if deaths < 1:
            raise click.BadParameter(
                f"{deaths}: a concealed accident needs at least one verified concealed death",
                param_hint="--deaths",
            )
        fines = ()
        quote_kind = "concealed_accident"
    if joint_position is not None and joint_position < 1:
        raise click.BadParameter(
            f"{joint_position}: the first signatory is 1", param_hint="--joint-position"
        )
    return QuoteInput(
        kind=quote_kind,
        penalties_fen=fines,
        grade=grade,
        deaths=deaths or 0,
        no_penalty=no_penalty,
        exclusions=frozenset(exclusions),
        earliest_reporter=not not_earliest,
        joint_position=joint_position,
    )


def _rule_set(on: dt.date, rule_set_id: str | None, shipped_only: bool) -> RuleSet:
    """The rule set, from the shipped data and (when the instance has one) the database."""
    if shipped_only:
        return rule_set_in_force(None, on, rule_set_id)
    try:
        settings = load()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or not Path(url.database).is_file()
    ):
        click.echo(
            "note: no database yet (run `qingling init`); using the shipped rule sets only",
            err=True,
        )
        return rule_set_in_force(None, on, rule_set_id)
    from core import db

    engine = db.make_engine(settings)
    try:
        with Session(engine) as session:
            if not inspect(session.connection()).has_table("reward_rule_sets"):
                click.echo(
                    "note: the database has no rule-set table yet (run `qingling init`); "
                    "using the shipped rule sets only",
                    err=True,
                )
                return rule_set_in_force(None, on, rule_set_id)
            rule_set = rule_set_in_force(session, on, rule_set_id)
            session.rollback()  # read only: nothing to commit
            return rule_set
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot read the rule sets from the database ({type(exc).__name__}); "
            "use --shipped-only to quote from the shipped rule sets"
        ) from None
    finally:
        engine.dispose()


@rewards_group.command("quote")
@click.option(
    "--kind",
    type=click.Choice(["hazard", "concealed-accident"]),
    required=True,
    help="hazard (a share of the penalty) or concealed-accident (per concealed death).",
)
@click.option(
    "--penalty-yuan",
    "penalties",
    multiple=True,
    metavar="AMOUNT",
    help="A fine in yuan, at most two decimals; repeat to add the fines on the unit and its "
    "responsible persons together.",
)
@click.option(
    "--no-penalty",
    is_flag=True,
    help="The hazard was verified and rectified with no penalty (the rule set's fixed amount).",
)
@click.option(
    "--grade",
    type=click.Choice(GRADE_NAMES),
    default=None,
    help="The finally confirmed accident grade.",
)
@click.option(
    "--deaths", type=int, default=None, metavar="N", help="Verified concealed deaths (1 or more)."
)
@click.option(
    "--rule-set",
    "rule_set_id",
    default=None,
    metavar="ID",
    help="A rule set version (national-2018) or series (taizhou); default: the national set "
    "in force.",
)
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="The day whose rules apply (default: today, Asia/Shanghai).",
)
@click.option(
    "--exclusion",
    "exclusions",
    multiple=True,
    type=click.Choice(EXCLUSION_CODES),
    help="A ground for exclusion that applies (repeatable).",
)
@click.option(
    "--not-earliest",
    is_flag=True,
    help="Another reporter of the same matter was accepted earlier.",
)
@click.option(
    "--joint-position",
    type=int,
    default=None,
    metavar="N",
    help="In a joint report, this reporter's place among the signatories (1 = first).",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of the explanation.",
)
@click.option(
    "--shipped-only",
    is_flag=True,
    help="Use only the rule sets shipped with Qingling; do not read the database.",
)
def quote(
    *,
    kind: str,
    penalties: tuple[str, ...],
    no_penalty: bool,
    grade: str | None,
    deaths: int | None,
    rule_set_id: str | None,
    on: dt.datetime | None,
    exclusions: tuple[str, ...],
    not_earliest: bool,
    joint_position: int | None,
    lang: str,
    shipped_only: bool,
) -> None:
    """Print the reward for a matter as one JSON object.

    \b
    Examples:
      qingling rewards quote --kind hazard --penalty-yuan 150000 --penalty-yuan 20000
      qingling rewards quote --kind concealed-accident --grade 较大 --deaths 3 --lang en

    Exit status 0 with the JSON; 1 when it cannot be quoted (unknown rule set, none in force,
    no rule for the case); 2 for impossible input.
    """
    inputs = _quote_input(
        kind=kind,
        penalties=penalties,
        no_penalty=no_penalty,
        grade=grade,
        deaths=deaths,
        exclusions=exclusions,
        not_earliest=not_earliest,
        joint_position=joint_position,
    )
    day = on.date() if on is not None else local_today(SystemClock())
    try:
        rule_set = _rule_set(day, rule_set_id, shipped_only)
        result = calculate(rule_set, inputs)
    except DomainError as exc:
        raise click.ClickException(
            exc.message % exc.params if exc.params else exc.message
        ) from None
    payload = {
        "amount_fen": result.amount_fen,
        "rule_set": result.rule_set,
        "rule": result.rule,
        "explanation": result.explanation(lang),
    }
    click.echo(json.dumps(payload, ensure_ascii=False))


COMMANDS: list[click.Command] = [rewards_group]
