"""The tip form, the facility search and the receipt, through the test client (issue 4 items 1,
2 and 4)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import FakeClock
from core.keys.models import KeyGroup
from crypto import tokens
from intake import services
from intake.models import Channel, Tip, TipKey
from registry.models import Division
from tests.conftest import csrf_token
from tests.intake.test_media import CANARIES, PDF, identifying_jpeg
from tests.public_site.conftest import (
    Ready,
    count_rows,
    post_tip,
    set_language,
    tip_fields,
    token_of,
)


@pytest.mark.parametrize(
    ("lang", "heading", "category", "notice"),
    [
        ("zh_CN", "举报隐患", "消防安全", "元数据"),
        ("en", "Report a hazard", "Fire safety", "metadata"),
    ],
)
def test_the_form_in_both_languages(
    client: FlaskClient, lang: str, heading: str, category: str, notice: str
) -> None:
    set_language(client, lang)
    page = client.get("/report").get_data(as_text=True)
    assert heading in page
    assert category in page
    assert 'enctype="multipart/form-data"' in page
    assert "<script" not in page  # works with JavaScript off: there is none
    assert 'name="extra_notes_2"' in page
    assert 'class="hp"' in page
    assert "杨舍镇" in page or "Yangshe" in page
    if lang == "en":
        assert "can carry the author" in page  # the metadata warning for non-photos
        assert "What happens to what you send" in page  # the data-use notice
        assert "claimed with the tracking token" in page  # real name vs reward
    else:
        assert "作者" in page


def test_a_tip_with_a_photo_gives_a_receipt_shown_once(
    client: FlaskClient, ready: Ready, dbs: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = post_tip(
        client,
        tip_fields(ready.division()),
        [(identifying_jpeg(), "IMG_20251127_2130.jpg"), (PDF, "report.pdf")],
    )
    assert response.status_code == 200
    token = token_of(response)
    tokens.parse_token(token)
    assert response.headers["Cache-Control"] == "no-store"
    # The token is in the page and nowhere else: no header, no cookie, no log record.
    for name, value in response.headers.items():
        assert token not in value, name
        assert token.replace("-", "") not in value, name
    assert all(token not in record.getMessage() for record in caplog.records)
    page = response.get_data(as_text=True)
    assert "qingling-token.txt" not in page  # the download is a POST, not a link
    assert page.count(token) == 2  # shown once, and in the hidden field of "save as text"

    opened = services.open_with_token(dbs, ready.settings, token)
    assert opened.channel is Channel.WEB
    assert opened.content.facility_name == "无名托老所"
    assert [(a.name, a.content_type, a.scrubbed) for a in opened.attachments] == [
        ("photo-1.jpg", "image/jpeg", True),
        ("file-2.pdf", "application/pdf", False),
    ]
    photo = b"".join(
        services.iter_attachment_with_access(
            dbs, services.unlock_with_token(dbs, ready.settings, token), opened.attachments[0].id
        )
    )
    assert photo.startswith(b"\xff\xd8")
    assert not any(canary in photo for canary in CANARIES)


def test_a_new_tip_is_sealed_to_division_city_and_recovery_groups(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    token = token_of(post_tip(client, tip_fields(ready.division())))
    tip = services.open_with_token(dbs, ready.settings, token)
    slugs = set(
        dbs.scalars(
            select(KeyGroup.slug)
            .join(TipKey, TipKey.group_id == KeyGroup.id)
            .where(TipKey.tip_id == tip.id)
        )
    )
    assert slugs == {f"triage:division:{ready.division()}", "triage:city", "recovery"}
    assert dbs.get(Tip, tip.id).state.value == "submitted"  # type: ignore[union-attr]


def test_without_key_groups_the_form_says_reporting_is_unavailable(
    public_app: Flask, dbs: Session, clock: FakeClock
) -> None:
    services.initialise_token_params(dbs, clock, calibrate=False)
    dbs.flush()
    client = public_app.test_client()
    set_language(client, "en")
    division = dbs.scalar(select(Division.id).limit(1))
    assert division is not None
    before = count_rows(dbs)
    response = post_tip(client, tip_fields(division))
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Reporting is not available right now" in page
    assert "Nothing you sent was saved" in page
    assert "qingling keys" not in page
    assert count_rows(dbs) == before


def test_honeypot_gets_a_receipt_but_nothing_is_stored(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    before = count_rows(dbs)
    response = post_tip(client, tip_fields(ready.division(), extra_notes_2="http://spam"))
    assert response.status_code == 200
    token = token_of(response)  # a well-formed token …
    tokens.parse_token(token)
    assert count_rows(dbs) == before  # … of no tip
    with pytest.raises(services.errors.UnknownToken):
        services.open_with_token(dbs, ready.settings, token)


def test_facility_search_is_a_post_keeps_what_was_typed_and_is_not_logged(
    client: FlaskClient, ready: Ready, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.get("/report/search").status_code == 405  # never in a URL
    response = post_tip(
        client,
        tip_fields(
            ready.division(), description="描述写了一半但要保留下来", facility_query="暨阳湖"
        ),
        path="/report/search",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "暨阳湖颐养院" in page
    assert f'value="{ready.facility("暨阳湖颐养院")}"' in page
    assert "描述写了一半但要保留下来" in page  # what was typed is kept
    assert "夕阳红托老所" not in page
    assert all("暨阳湖" not in record.getMessage() for record in caplog.records)


def test_choosing_a_found_facility_stores_its_id(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    facility = ready.facility()
    token = token_of(
        post_tip(client, tip_fields(ready.division(), facility_id=str(facility), facility_name=""))
    )
    tip = services.open_with_token(dbs, ready.settings, token)
    assert tip.facility_id == facility
    assert tip.content.facility_name == ""


def test_the_token_file_echoes_a_token_as_a_download(client: FlaskClient) -> None:
    token = tokens.generate_token().display
    response = client.post(
        "/report/token.txt", data={"csrf_token": csrf_token(client, "/report"), "token": token}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="qingling-token.txt"'
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert token in response.get_data(as_text=True)
    refused = client.post(
        "/report/token.txt",
        data={"csrf_token": csrf_token(client, "/report"), "token": "<script>x</script>"},
    )
    assert refused.status_code == 400
    assert "script" not in refused.get_data(as_text=True)
    assert client.post("/report/token.txt", data={"token": token}).status_code == 400  # CSRF


def test_web_form_and_api_store_the_same_tip(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    division = ready.division()
    photo = identifying_jpeg()
    web = token_of(post_tip(client, tip_fields(division), [(photo, "a.jpg")]))
    import io
    import json

    api = client.post(
        "/api/v1/tips",
        data={
            "tip": json.dumps(
                {
                    "description": "二楼消防通道被杂物堵死，夜间只有一名护工值班。",
                    "category": "fire",
                    "division": division,
                    "location": "后门旁的楼梯",
                    "facility_name": "无名托老所",
                    "observed_at": "上周三晚上",
                    "relationship": "employee",
                    "contact": "",
                    "real_name": "",
                }
            ),
            "files": [(io.BytesIO(photo), "b.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert api.status_code == 201, api.get_json()
    a = services.open_with_token(dbs, ready.settings, web)
    b = services.open_with_token(dbs, ready.settings, api.get_json()["token"])
    assert a.content == b.content
    assert (a.state, a.division_id, a.category, a.facility_id, a.submitted_at) == (
        b.state,
        b.division_id,
        b.category,
        b.facility_id,
        b.submitted_at,
    )
    assert [(x.name, x.content_type, x.scrubbed, x.size) for x in a.attachments] == [
        (x.name, x.content_type, x.scrubbed, x.size) for x in b.attachments
    ]
    assert (a.channel, b.channel) == (Channel.WEB, Channel.API)
