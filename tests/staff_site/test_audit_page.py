"""The auditor's page, through the staff app with real sessions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.audit import services as audit
from core.clock import FakeClock

URL = "/audit/"


def _english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def _auditor(staff_client: FlaskClient, make_user: Any, login: Any) -> FlaskClient:
    return _english(login(staff_client, make_user("auditor", Role.AUDITOR)))


def _seqs(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]


def test_anonymous_is_sent_to_log_in(staff_client: FlaskClient) -> None:
    response = staff_client.get(URL)
    assert response.status_code in {302, 303}
    assert "login" in response.headers["Location"]


def test_other_roles_are_refused(staff_client: FlaskClient, make_user: Any, login: Any) -> None:
    user = make_user("boss", Role.ADMINISTRATOR, Role.SUPERVISOR, Role.TRIAGE_OFFICER)
    response = login(staff_client, user).get(URL)
    assert response.status_code == 403
    assert "division.created" not in response.get_data(as_text=True)


def test_auditor_sees_records_in_shanghai_time_and_a_sound_chain(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _auditor(staff_client, make_user, login)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "division.created" in page
    assert "杨舍镇" in page
    # The fake clock starts at 02:00 UTC on 1 November 2026: 10:00 in Shanghai.
    assert "2026-11-01 10:00:00" in page
    assert "The chain verifies" in page
    assert audit.head(dbs) in page
    assert 'class="table-scroll"' in page
    seqs = _seqs(page)
    assert seqs == sorted(seqs, reverse=True)
    assert seqs[0] == int(audit.head(dbs).split(":")[0])


def test_details_are_escaped(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session, clock: FakeClock
) -> None:
    client = _auditor(staff_client, make_user, login)
    audit.record(
        dbs,
        clock,
        audit.Actor(None, "<b>mallory</b>"),
        "test.xss",
        "thing",
        1,
        {"name": "<script>alert(1)</script>"},
    )
    dbs.flush()
    page = client.get(URL).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>mallory</b>" not in page


def test_filters_narrow_the_table(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session, clock: FakeClock
) -> None:
    client = _auditor(staff_client, make_user, login)
    # Two days later (a separate clock: advancing the app's would end the login session).
    later = FakeClock(clock.now() + dt.timedelta(days=2))
    alice = audit.record(dbs, later, audit.Actor(41, "alice"), "tip.read", "tip", "t-1", {})
    dbs.flush()

    page = client.get(URL, query_string={"actor": "alice"}).get_data(as_text=True)
    assert _seqs(page) == [alice.seq]
    page = client.get(URL, query_string={"action": "division."}).get_data(as_text=True)
    assert alice.seq not in _seqs(page)
    assert len(_seqs(page)) == 11
    page = client.get(URL, query_string={"object_type": "tip", "object_id": "t-1"}).get_data(
        as_text=True
    )
    assert _seqs(page) == [alice.seq]
    # 3 November in Shanghai holds only the new record; 1 November only the divisions.
    page = client.get(URL, query_string={"date_from": "2026-11-03"}).get_data(as_text=True)
    assert _seqs(page) == [alice.seq]
    page = client.get(URL, query_string={"date_to": "2026-11-01"}).get_data(as_text=True)
    assert alice.seq not in _seqs(page)
    assert len(_seqs(page)) >= 11
    assert "Clear the filters" in page


def test_bad_filter_input_is_shown_not_searched(
    staff_client: FlaskClient, make_user: Any, login: Any
) -> None:
    client = _auditor(staff_client, make_user, login)
    response = client.get(URL, query_string={"date_from": "2026-11-05", "date_to": "2026-11-01"})
    assert response.status_code == 400  # refused, shown with the problem
    page = response.get_data(as_text=True)
    assert "The end date is before the start date." in page
    assert _seqs(page) == []
    response = client.get(URL, query_string={"date_from": "yesterday"})
    assert response.status_code == 400
    assert _seqs(response.get_data(as_text=True)) == []


def test_newer_and_older_pages(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session, clock: FakeClock
) -> None:
    client = _auditor(staff_client, make_user, login)
    for i in range(60):
        clock.advance(seconds=1)
        audit.record(dbs, clock, audit.Actor(41, "pager"), "page.event", "thing", i, {})
    dbs.flush()
    first = client.get(URL, query_string={"actor": "pager"}).get_data(as_text=True)
    assert len(_seqs(first)) == 50
    assert "Newer records" not in first
    older = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(_seqs(second)) == 10
    assert min(_seqs(first)) > max(_seqs(second))
    assert 'rel="next"' not in second
    newer = re.search(r'<a rel="prev" href="([^"]+)"', second)
    assert newer
    assert "actor=pager" in newer.group(1)
    back = client.get(newer.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert _seqs(back) == _seqs(first)


def test_a_broken_chain_is_shown(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _auditor(staff_client, make_user, login)
    dbs.connection().execute(text("UPDATE audit_records SET details = '{}' WHERE seq = 3"))
    page = client.get(URL).get_data(as_text=True)
    assert "The chain is BROKEN" in page
    assert "record 3 was changed after it was written" in page
    assert "The chain verifies" not in page


def test_reading_the_trail_writes_nothing(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _auditor(staff_client, make_user, login)
    before = audit.head(dbs)
    assert client.get(URL).status_code == 200
    assert audit.head(dbs) == before
