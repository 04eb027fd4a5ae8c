"""The triage pages through the staff app: queue (filters, counts, keyset pages), the tip page
(decrypted for a member officer in scope, metadata only for supervisors, refused elsewhere),
every action posted as a real form with its CSRF token, and the attachment route's headers."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from cases.models import HazardCase
from cases.standards.services import load_shipped_standards
from core.accounts import services as accounts
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.keys import services as keys
from core.keys.pins import KeyPins
from core.settings import Settings
from intake import services as intake_services
from intake.models import Channel, TipCategory, TipState
from staff_site.views import triage as triage_view
from tests.conftest import csrf_token
from tests.triage.conftest import Staff, World, division_ids
from triage import services as triage

QUEUE = "/triage/"
DESCRIPTION = "养老院二楼的消防通道被杂物堵死"


@pytest.fixture
def world(dbs: Session, clock: FakeClock, settings: Settings, make_user: Any) -> World:
    sheet, _ = keys.init_recovery(dbs, clock, settings, SYSTEM_ACTOR)
    intake_services.initialise_token_params(dbs, clock, calibrate=False)
    load_shipped_standards(dbs, clock)  # cases refer to items of the catalogue
    dbs.flush()
    own, other = division_ids(dbs)
    return World(
        dbs, clock, settings, make_user, keys.RecoveryAuthority(sheet.private_key), own, other
    )


def sign_in(app: Flask, world: World, who: Staff | str) -> FlaskClient:
    """A client with a full session for ``who`` holding their personal key (as a real login
    leaves it), in English."""
    staff = world.staff(who) if isinstance(who, str) else who
    client = app.test_client()
    cookie = accounts.open_session(
        world.dbs, world.clock, world.settings, staff.user, personal_private_key=staff.key
    )
    world.dbs.flush()
    with client.session_transaction() as flask_session:
        flask_session["sid"] = cookie
        flask_session["lang"] = "en"
    return client


def tip_url(tip_id: uuid.UUID) -> str:
    return f"/triage/tips/{tip_id}"


def post(client: FlaskClient, tip_id: uuid.UUID, path: str, name: str, **fields: Any) -> Any:
    token = csrf_token(client, tip_url(tip_id))
    data = {f"{name}-csrf_token": token, **{f"{name}-{k}": v for k, v in fields.items()}}
    return client.post(f"{tip_url(tip_id)}/{path}", data=data)


def follow(client: FlaskClient, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))


def actions(world: World, tip_id: uuid.UUID) -> list[str]:
    return [r.action for r in world.audit(tip_id)]


def row_ids(page: str) -> list[str]:
    return re.findall(r'data-tip="([0-9a-f-]{36})"', page)


# ---------------------------------------------------------------- the queue


def test_queue_needs_a_login_and_a_triage_or_supervisor_role(
    staff_app: Flask, world: World
) -> None:
    response = staff_app.test_client().get(QUEUE)
    assert response.status_code in {302, 303}
    assert "login" in response.headers["Location"]
    for who in ("case_officer", "auditor", "administrator", "finance_officer"):
        assert sign_in(staff_app, world, who).get(QUEUE).status_code == 403, who


def test_division_officer_sees_own_division_city_officer_and_supervisor_all(
    staff_app: Flask, world: World
) -> None:
    own = world.submit()
    other = world.submit(world.other)
    page = sign_in(staff_app, world, "triage_own").get(QUEUE).get_data(as_text=True)
    assert row_ids(page) == [str(own)]
    assert 'class="table-scroll"' in page
    assert DESCRIPTION not in page  # the queue is metadata only
    for who in ("triage_city", "supervisor"):
        response = sign_in(staff_app, world, who).get(QUEUE)
        assert response.status_code == 200
        assert set(row_ids(response.get_data(as_text=True))) == {str(own), str(other)}, who


def test_filters_counts_and_flags(staff_app: Flask, world: World) -> None:
    submitted = world.submit(category=TipCategory.GAS, channel=Channel.WECHAT)
    accepted = world.submit()
    world.drive(accepted, TipState.ACCEPTED)
    verifying = world.submit()
    world.drive(verifying, TipState.VERIFYING)
    closed = world.submit()
    world.drive(closed, TipState.CLOSED)
    city = world.city
    triage.ask_reporter(*world.args(), accepted, personal_key=city.key, body="几楼？")
    client = sign_in(staff_app, world, "triage_city")

    page = client.get(QUEUE).get_data(as_text=True)
    assert set(row_ids(page)) == {str(submitted), str(accepted), str(verifying)}  # open only
    assert 'data-state="submitted">1<' in page
    assert 'data-state="accepted">1<' in page
    assert 'data-state="verifying">1<' in page
    assert 'data-state="closed"' not in page
    assert "question unanswered" in page
    page = client.get(QUEUE, query_string={"state": "all"}).get_data(as_text=True)
    assert str(closed) in row_ids(page)
    page = client.get(QUEUE, query_string={"state": "closed"}).get_data(as_text=True)
    assert row_ids(page) == [str(closed)]
    page = client.get(QUEUE, query_string={"category": "gas"}).get_data(as_text=True)
    assert row_ids(page) == [str(submitted)]
    assert 'data-state="accepted">1<' in page  # counts ignore all but the division filter
    page = client.get(QUEUE, query_string={"channel": "wechat"}).get_data(as_text=True)
    assert row_ids(page) == [str(submitted)]
    page = client.get(QUEUE, query_string={"unanswered": "y"}).get_data(as_text=True)
    assert row_ids(page) == [str(accepted)]
    page = client.get(QUEUE, query_string={"sort": "due"}).get_data(as_text=True)
    assert row_ids(page) == [str(verifying)]
    # The verification deadline is 60 days on (the last day: 31 December 2026, Shanghai).
    assert "2026-12-31" in page
    page = client.get(QUEUE, query_string={"due_before": "2026-12-31"}).get_data(as_text=True)
    assert row_ids(page) == [str(verifying)]
    page = client.get(QUEUE, query_string={"due_before": "2026-12-30"}).get_data(as_text=True)
    assert row_ids(page) == []
    page = client.get(QUEUE, query_string={"overdue": "y"}).get_data(as_text=True)
    assert row_ids(page) == []
    page = client.get(QUEUE, query_string={"division": str(world.other)}).get_data(as_text=True)
    assert row_ids(page) == []
    assert 'data-state="accepted">0<' in page
    response = client.get(QUEUE, query_string={"state": "nonsense"})
    assert response.status_code == 400


def test_overdue_is_shown(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    world.clock.advance(days=70)
    page = (
        sign_in(staff_app, world, "triage_city")
        .get(QUEUE, query_string={"overdue": "y"})
        .get_data(as_text=True)
    )
    assert row_ids(page) == [str(tip_id)]
    assert "badge danger" in page


def test_keyset_pages_next_and_first(
    staff_app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triage_view, "PAGE_SIZE", 2)
    tips = []
    for _ in range(5):
        tips.append(world.submit())
        world.clock.advance(hours=1)
    client = sign_in(staff_app, world, "triage_own")
    seen: list[str] = []
    page = client.get(QUEUE, query_string={"sort": "oldest"}).get_data(as_text=True)
    assert 'id="first-page"' not in page
    while True:
        seen += row_ids(page)
        match = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
        if not match:
            break
        href = match.group(1).replace("&amp;", "&")
        assert "sort=oldest" in href
        page = client.get(href).get_data(as_text=True)
        assert 'id="first-page"' in page
    assert seen == [str(t) for t in tips]
    response = client.get(QUEUE, query_string={"cursor": "not-a-cursor"})
    assert response.status_code == 200
    assert "This page link is not valid any more" in response.get_data(as_text=True)


# ---------------------------------------------------------------- the tip page


def test_member_officer_reads_the_tip_and_the_read_is_audited(
    staff_app: Flask, world: World
) -> None:
    tip_id = world.submit()
    response = sign_in(staff_app, world, "triage_own").get(tip_url(tip_id))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert DESCRIPTION in page
    assert "王小明" in page
    assert "the reporter never sees this" in page
    for form in ("accept", "not_accept", "transfer", "mark_duplicate", "ask", "note"):
        assert f'id="form-{form}"' in page, form
    for form in ("start_verification", "conclude", "close", "extend_verification", "case"):
        assert f'id="form-{form}"' not in page, form
    reads = [r for r in world.audit(tip_id) if r.action == "tip.read"]
    assert len(reads) == 1
    assert reads[0].actor_label == "triage-own"
    assert DESCRIPTION not in reads[0].details


def test_another_divisions_officer_is_refused(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_other")
    response = client.get(tip_url(tip_id))
    assert response.status_code == 403
    assert DESCRIPTION not in response.get_data(as_text=True)
    token = csrf_token(client, QUEUE)
    response = client.post(f"{tip_url(tip_id)}/accept", data={"accept-csrf_token": token})
    assert response.status_code == 403
    assert world.tip(tip_id).state is TipState.SUBMITTED
    assert "tip.read" not in actions(world, tip_id)


def test_supervisor_sees_metadata_and_history_but_no_content_and_no_actions(
    staff_app: Flask, world: World
) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.ACCEPTED)
    client = sign_in(staff_app, world, "supervisor")
    page = client.get(tip_url(tip_id)).get_data(as_text=True)
    assert 'id="metadata-only"' in page
    assert "triage-city" in page  # the history's actor
    assert "Accepted" in page
    assert DESCRIPTION not in page
    assert "王小明" not in page
    assert "form-start_verification" not in page
    assert "tip.read" not in actions(world, tip_id)
    token = csrf_token(client, QUEUE)
    response = client.post(
        f"{tip_url(tip_id)}/start-verification", data={"start_verification-csrf_token": token}
    )
    assert response.status_code == 403
    assert world.tip(tip_id).state is TipState.ACCEPTED


def test_officer_without_a_key_gets_a_clear_message(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    response = sign_in(staff_app, world, "triage_keyless").get(tip_url(tip_id))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="no-key"' in page
    assert "You hold no key that opens this report" in page
    assert DESCRIPTION not in page


def test_session_without_personal_key_gets_a_clear_message(
    staff_app: Flask, world: World, login: Any
) -> None:
    tip_id = world.submit()
    client = login(staff_app.test_client(), world.staff("triage_own").user)
    page = client.get(tip_url(tip_id)).get_data(as_text=True)
    assert 'id="no-key"' in page
    assert DESCRIPTION not in page


# ---------------------------------------------------------------- actions


def test_accept_verify_ask_note_conclude_and_open_a_case(
    staff_app: Flask, world: World, dbs: Session
) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_own")

    page = follow(client, post(client, tip_id, "accept", "accept"))
    assert "The report is accepted." in page
    assert world.tip(tip_id).state is TipState.ACCEPTED
    assert 'id="form-start_verification"' in page

    page = follow(client, post(client, tip_id, "ask", "ask", body="请问是哪一栋楼？"))
    assert "Your question is sent to the reporter." in page
    assert "请问是哪一栋楼？" in page
    assert world.tip(tip_id).awaiting_reply_since is not None

    page = follow(client, post(client, tip_id, "note", "note", body="需要现场核查。"))
    assert "The internal note is saved." in page
    assert "需要现场核查。" in page

    page = follow(client, post(client, tip_id, "start-verification", "start_verification"))
    assert "Verification has started" in page
    assert world.tip(tip_id).state is TipState.VERIFYING

    response = post(
        client, tip_id, "extend", "extend_verification", days="40", reason="等待检测报告"
    )
    assert response.status_code == 400
    assert "An extension is 1 to 30 days." in response.get_data(as_text=True)
    assert world.tip(tip_id).extension_days is None
    page = follow(
        client,
        post(client, tip_id, "extend", "extend_verification", days="10", reason="等待检测报告"),
    )
    assert "The verification deadline is extended." in page
    assert 'id="form-extend_verification"' not in page  # once only
    assert world.tip(tip_id).extension_days == 10

    response = post(client, tip_id, "conclude", "conclude", outcome="substantiated", text="  ")
    assert response.status_code == 400
    assert world.tip(tip_id).state is TipState.VERIFYING
    page = follow(
        client,
        post(client, tip_id, "conclude", "conclude", outcome="substantiated", text="情况属实。"),
    )
    assert "The verification is concluded" in page
    assert world.tip(tip_id).state is TipState.SUBSTANTIATED
    assert 'id="close-after"' in page  # the objection window is open
    assert 'id="form-close"' not in page

    # The case: the passage naming the reporter is removed first, then the case opens.
    token = csrf_token(client, tip_url(tip_id))
    response = client.post(
        f"{tip_url(tip_id)}/case",
        data={
            "case-csrf_token": token,
            "case-standard_items": "GB 35181-2017/7.3.1，GB 35181-2017/7.3.2",
            "case-description": "王小明说二楼消防通道被堵。",
            "case-passages": "王小明说",
            "case-redact": "Remove passages",
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 passages were removed" in page
    assert "[…]二楼消防通道被堵。" in page
    response = client.post(
        f"{tip_url(tip_id)}/case",
        data={
            "case-csrf_token": token,
            "case-standard_items": "GB 35181-2017/7.3.1，GB 35181-2017/7.3.2",
            "case-description": "王小明：二楼消防通道被堵。",
            "case-open_case": "Open the hazard case",
        },
    )
    assert response.status_code == 400
    assert "The description contains the reporter&#39;s name" in response.get_data(as_text=True)
    page = follow(
        client,
        client.post(
            f"{tip_url(tip_id)}/case",
            data={
                "case-csrf_token": token,
                "case-standard_items": "GB 35181-2017/7.3.1，GB 35181-2017/7.3.2",
                "case-description": "[…]二楼消防通道被堵。",
                "case-open_case": "Open the hazard case",
            },
        ),
    )
    assert "A hazard case is opened from this report." in page
    assert 'id="case-opened"' in page
    [case] = dbs.query(HazardCase).filter(HazardCase.tip_id == tip_id).all()
    assert case.standard_items == ["GB 35181-2017/7.3.1", "GB 35181-2017/7.3.2"]
    assert case.description == "[…]二楼消防通道被堵。"

    done = actions(world, tip_id)
    for action in (
        "tip.accept",
        "tip.message_sent",
        "tip.note_added",
        "tip.start_verification",
        "tip.extend_verification",
        "tip.conclude",
        "case.redaction",
        "tip.read",
    ):
        assert action in done, action
    assert "case.opened" in [r.action for r in world.audit()]
    for record in world.audit(tip_id):
        for word in ("王小明", "消防通道", "请问", "核查", "属实"):
            assert word not in record.details, (record.action, word)


def test_not_accept_and_close_after_the_window(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_own")
    response = post(client, tip_id, "not-accept", "not_accept", reason="outside_remit", text="")
    assert response.status_code == 400
    page = follow(
        client,
        post(
            client, tip_id, "not-accept", "not_accept", reason="outside_remit", text="不归本局管。"
        ),
    )
    assert "The report is not accepted" in page
    assert world.tip(tip_id).state is TipState.NOT_ACCEPTED
    assert "Outside our remit" in page
    assert 'id="form-close"' not in page
    world.clock.advance(days=11)
    client = sign_in(staff_app, world, "triage_own")  # the old session timed out
    page = follow(client, post(client, tip_id, "close", "close"))
    assert "The report is closed." in page
    assert world.tip(tip_id).state is TipState.CLOSED
    assert 'id="form-ask"' not in page
    assert {"tip.not_accept", "tip.close"} <= set(actions(world, tip_id))


def test_transfer(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_city")
    page = follow(
        client,
        post(client, tip_id, "transfer", "transfer", regulator="市场监管局", note="已转交。"),
    )
    assert "The report is transferred to 市场监管局." in page
    assert world.tip(tip_id).transferred_to == "市场监管局"
    assert "tip.transfer" in actions(world, tip_id)


def test_mark_duplicate_from_the_suggestions(staff_app: Flask, world: World) -> None:
    original = world.submit()
    world.drive(original, TipState.ACCEPTED)
    world.clock.advance(hours=2)
    later = world.submit()
    client = sign_in(staff_app, world, "triage_own")
    page = client.get(tip_url(later)).get_data(as_text=True)
    assert f'name="mark_duplicate-original" value="{original}"' in page
    response = post(client, later, "duplicate", "mark_duplicate", original="not-an-id")
    assert response.status_code == 400
    response = post(client, later, "duplicate", "mark_duplicate", original=str(later))
    assert response.status_code == 400
    assert "A report cannot be a duplicate of itself." in response.get_data(as_text=True)
    page = follow(
        client, post(client, later, "duplicate", "mark_duplicate", original=str(original))
    )
    assert "marked as a duplicate" in page
    assert world.tip(later).duplicate_of_id == original
    record = next(r for r in world.audit(later) if r.action == "tip.mark_duplicate")
    assert json.loads(record.details)["original"] == str(original)


def test_conclude_recheck_after_an_objection(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.RECHECKING)
    client = sign_in(staff_app, world, "triage_own")
    page = client.get(tip_url(tip_id)).get_data(as_text=True)
    assert "结论与事实不符。" in page  # the objection
    assert 'id="form-case"' not in page  # not while re-checking
    page = follow(
        client,
        post(
            client,
            tip_id,
            "conclude-recheck",
            "conclude_recheck",
            outcome="partly_substantiated",
            text="复核：部分属实。",
        ),
    )
    assert "The re-check is concluded" in page
    tip = world.tip(tip_id)
    assert tip.state is TipState.RECHECKED
    assert tip.recheck_outcome is TipState.PARTLY_SUBSTANTIATED
    assert 'id="form-case"' in page


def test_a_step_the_state_does_not_allow_is_refused(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_own")
    response = post(client, tip_id, "start-verification", "start_verification")
    assert response.status_code == 409
    assert "This step is not possible" in response.get_data(as_text=True)
    assert world.tip(tip_id).state is TipState.SUBMITTED


def test_posts_without_csrf_are_refused(staff_app: Flask, world: World) -> None:
    tip_id = world.submit()
    client = sign_in(staff_app, world, "triage_own")
    response = client.post(f"{tip_url(tip_id)}/accept", data={})
    assert response.status_code == 400
    assert world.tip(tip_id).state is TipState.SUBMITTED


# ---------------------------------------------------------------- attachments


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 60, 40)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_attachments_inline_photo_and_downloaded_file(staff_app: Flask, world: World) -> None:
    photo = jpeg()
    recipients = keys.tip_recipients(world.dbs, world.settings, world.own, KeyPins(None))
    receipt = intake_services.submit_tip(
        world.dbs,
        world.clock,
        world.settings,
        recipients,
        intake_services.TipSubmission(
            description=DESCRIPTION, category=TipCategory.FIRE, division_id=world.own
        ),
        [
            intake_services.AttachmentInput("photo-1.jpg", "image/jpeg", [photo], scrubbed=True),
            intake_services.AttachmentInput("report.pdf", "application/pdf", [PDF]),
        ],
    )
    tip_id = receipt.tip_id
    client = sign_in(staff_app, world, "triage_own")
    page = client.get(tip_url(tip_id)).get_data(as_text=True)
    urls = re.findall(r'<img class="photo" src="([^"]+)"', page)
    assert len(urls) == 1
    pdf_url = next(
        u
        for u in re.findall(r'href="(/triage/tips/[^"]+/attachments/[^"]+)"', page)
        if u not in urls
    )

    response = client.get(urls[0])
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith('inline; filename="')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.get_data() == photo

    response = client.get(pdf_url)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == PDF
    assert actions(world, tip_id).count("tip.attachment_read") == 2

    response = client.get(f"{tip_url(tip_id)}/attachments/{uuid.uuid4()}")
    assert response.status_code == 404
    other = sign_in(staff_app, world, "triage_other")
    assert other.get(urls[0]).status_code == 403
    assert sign_in(staff_app, world, "supervisor").get(urls[0]).status_code == 403
