"""Reporter sessions and channel intake as services (intake.services.sessions, .receiving)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from core.audit.services import SYSTEM_ACTOR
from core.keys import services as keys
from core.keys.errors import KeysNotInitialised
from intake import errors, services
from intake.models import ReporterSession
from registry.services import load_demo_facilities, search_facilities
from tests.intake.conftest import Intake, make_submission
from tests.intake.test_media import PDF, identifying_jpeg


def test_a_session_opens_with_the_token_and_yields_the_access(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    receipt = ready.submit()
    opened = services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    access = services.reporter_access(dbs, clock, opened.value)
    assert access.tip_id == receipt.tip_id
    assert services.open_with_access(dbs, access).content.description.startswith("养老院")
    row = dbs.scalar(select(ReporterSession))
    assert row is not None
    assert opened.value.encode() not in row.value_hash


def test_a_session_value_that_is_wrong_opens_nothing(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    receipt = ready.submit()
    opened = services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    # The last character changed (to one it is not: a random value may end in "A").
    altered = opened.value[:-1] + ("B" if opened.value.endswith("A") else "A")
    for value in ("", "x", altered, "é" * 10, "y" * 500, None):
        with pytest.raises(errors.ReporterSessionEnded):
            services.reporter_access(dbs, clock, value)


def test_idle_timeout_moves_with_use_and_ends_the_session(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    receipt = ready.submit()
    opened = services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    clock.advance(minutes=15)
    services.reporter_access(dbs, clock, opened.value)
    clock.advance(minutes=15)
    services.reporter_access(dbs, clock, opened.value)
    clock.advance(minutes=20)
    with pytest.raises(errors.ReporterSessionEnded):
        services.reporter_access(dbs, clock, opened.value)
    dbs.flush()
    assert dbs.scalar(select(ReporterSession)) is None


def test_stale_sessions_are_purged_when_another_opens(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    receipt = ready.submit()
    services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    clock.advance(minutes=30)
    services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    assert len(list(dbs.scalars(select(ReporterSession)))) == 1


def test_logout_ends_the_session(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    receipt = ready.submit()
    opened = services.open_reporter_session(dbs, clock, settings, receipt.token.display)
    dbs.flush()
    services.end_reporter_session(dbs, opened.value)
    with pytest.raises(errors.ReporterSessionEnded):
        services.reporter_access(dbs, clock, opened.value)


def test_replace_token_for_another_tip_is_refused(ready: Intake) -> None:
    dbs, clock, settings, _groups, _division = ready.parts()
    mine, other = ready.submit(), ready.submit()
    with pytest.raises(errors.UnknownToken):
        services.replace_token(dbs, clock, settings, other.token.display, for_tip=mine.tip_id)
    assert services.open_with_token(dbs, settings, other.token.display)


def test_decoy_token_runs_the_derivation_and_stores_nothing(ready: Intake) -> None:
    dbs, _clock, settings, _groups, _division = ready.parts()
    token = services.decoy_token(dbs, settings)
    with pytest.raises(errors.UnknownToken):
        services.open_with_token(dbs, settings, token.display)


def test_receive_tip_needs_key_groups(ready: Intake) -> None:
    dbs, clock, settings, _groups, division = ready.parts()
    with pytest.raises(KeysNotInitialised):
        services.receive_tip(dbs, clock, settings, make_submission(division))


def test_receive_tip_checks_files_and_names_them_neutrally(ready: Intake) -> None:
    dbs, clock, settings, _groups, division = ready.parts()
    keys.init_recovery(dbs, clock, settings, SYSTEM_ACTOR)
    load_demo_facilities(dbs, clock, SYSTEM_ACTOR)
    facility = search_facilities(dbs, "夕阳红")[0].id
    receipt = services.receive_tip(
        dbs,
        clock,
        settings,
        make_submission(division, facility_id=facility, facility_name=""),
        [io.BytesIO(identifying_jpeg()), io.BytesIO(PDF)],
    )
    tip = services.open_with_token(dbs, settings, receipt.token.display)
    assert [(a.name, a.scrubbed) for a in tip.attachments] == [
        ("photo-1.jpg", True),
        ("file-2.pdf", False),
    ]
    with pytest.raises(errors.UnknownFacility):
        services.receive_tip(
            dbs, clock, settings, make_submission(division, facility_id=99_999, facility_name="")
        )
    with pytest.raises(errors.AttachmentRefused) as refused:
        services.receive_tip(
            dbs,
            clock,
            settings,
            make_submission(division),
            [io.BytesIO(PDF), io.BytesIO(b"MZ" * 50)],
        )
    assert (refused.value.position, refused.value.status, refused.value.field) == (
        2,
        415,
        "attachments",
    )


@pytest.mark.parametrize(
    "text", ["nul\x00byte text here", "bad \ufffd replacement", "lone \ud800 x"]
)
def test_unstorable_text_is_refused(ready: Intake, text: str) -> None:
    with pytest.raises(errors.InvalidSubmission) as caught:
        ready.submit(description=text + "0123456789")
    assert caught.value.field == "description"


def test_facility_search(ready: Intake) -> None:
    dbs, clock, _settings, _groups, _division = ready.parts()
    load_demo_facilities(dbs, clock, SYSTEM_ACTOR)
    assert load_demo_facilities(dbs, clock, SYSTEM_ACTOR) == 0  # once
    assert [h.name for h in search_facilities(dbs, "ｔａｎｇ")] == []
    assert [h.name for h in search_facilities(dbs, "  塘桥   福利 ")] == ["塘桥镇福利院"]
    assert [h.name for h in search_facilities(dbs, "大新")] == ["大新镇敬老院"]
    assert search_facilities(dbs, "_") == []
    assert search_facilities(dbs, "\x00") == []
    assert len(search_facilities(dbs, "镇")) <= 20
