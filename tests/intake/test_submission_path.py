"""The statements a submission costs (``intake.services.submit_tip``, the public site's hot
path): token parameters remembered per process and checked by the INSERT of the token row, the
division checked by the INSERT of the tip row, the rows written with few round trips."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.clock import FakeClock
from crypto import tokens
from intake import errors, services
from intake.models import Tip, TipKey, TipToken, TokenParamSet
from registry.models import Division
from tests.intake.conftest import Intake


@contextmanager
def statements(dbs: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    bind = dbs.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", note)


def remembered(dbs: Session) -> tokens.TokenParams | None:
    return services._newest_params.get(dbs.get_bind().engine)


def remember(dbs: Session, params: tokens.TokenParams) -> None:
    services._newest_params[dbs.get_bind().engine] = params


def tips(dbs: Session) -> int:
    return dbs.scalar(select(func.count()).select_from(Tip)) or 0


def test_a_submission_reads_nothing_it_can_remember(ready: Intake) -> None:
    ready.submit()  # the parameters are read (or found stale) and remembered
    with statements(ready.dbs) as seen:
        receipt = ready.submit()
    # The tip (with the division check), its sealed keys, its token row (with the parameter
    # check), and the audit record (on PostgreSQL after the chain lock and the head).
    writes = [s for s in seen if s.startswith("INSERT")]
    assert [w.split()[2] for w in writes] == ["tips", "tip_keys", "tip_tokens", "audit_records"]
    assert len(seen) <= 7
    assert not any("FROM token_param_sets ORDER BY" in s for s in seen)
    assert not any(s.startswith("SELECT divisions") for s in seen)
    tip = services.open_with_token(ready.dbs, ready.settings, receipt.token.display)
    assert tip.id == receipt.tip_id


def test_stale_remembered_parameters_are_noticed_and_the_token_still_opens(
    ready: Intake, token_params: tokens.TokenParams
) -> None:
    # As after a database was rebuilt under the same engine: version 1 with another salt.
    remember(ready.dbs, dataclasses.replace(token_params, salt=tokens.new_salt()))
    receipt = ready.submit()
    assert remembered(ready.dbs) == token_params
    assert services.open_with_token(ready.dbs, ready.settings, receipt.token.display)
    row = ready.dbs.get(TipToken, receipt.tip_id)
    assert row is not None
    assert row.params_version == token_params.version


def test_a_newer_parameter_set_is_used_from_the_next_tip_and_the_older_tokens_still_open(
    ready: Intake, clock: FakeClock, token_params: tokens.TokenParams
) -> None:
    first = ready.submit()
    assert remembered(ready.dbs) == token_params
    newer = tokens.cheap_token_params()
    newer = dataclasses.replace(newer, version=token_params.version + 1)
    ready.dbs.add(
        TokenParamSet(
            version=newer.version,
            n=newer.n,
            r=newer.r,
            p=newer.p,
            salt=newer.salt,
            created_at=clock.now(),
        )
    )
    second = ready.submit()
    assert remembered(ready.dbs) == newer
    versions = {
        receipt.tip_id: ready.dbs.scalar(
            select(TipToken.params_version).where(TipToken.tip_id == receipt.tip_id)
        )
        for receipt in (first, second)
    }
    assert versions == {first.tip_id: token_params.version, second.tip_id: newer.version}
    for receipt in (first, second):
        opened = services.open_with_token(ready.dbs, ready.settings, receipt.token.display)
        assert opened.id == receipt.tip_id


def test_remembered_parameters_that_are_gone_mean_intake_is_not_ready(intake: Intake) -> None:
    remember(intake.dbs, tokens.cheap_token_params())
    with pytest.raises(errors.IntakeNotReady):
        intake.submit()
    assert remembered(intake.dbs) is None


@pytest.mark.parametrize("how", ["unknown", "inactive"])
def test_a_tip_for_an_unknown_or_inactive_division_is_not_stored(ready: Intake, how: str) -> None:
    division_id = ready.division_id
    if how == "unknown":
        division_id = 987_654
    else:
        division = ready.dbs.get(Division, division_id)
        assert division is not None
        division.active = False  # pending: the submission flushes it before checking
    before = tips(ready.dbs)
    with pytest.raises(errors.UnknownDivision):
        ready.submit(division_id=division_id)
    assert tips(ready.dbs) == before
    assert ready.dbs.scalar(select(func.count()).select_from(TipKey)) == 0
    assert ready.dbs.scalar(select(func.count()).select_from(TipToken)) == 0
