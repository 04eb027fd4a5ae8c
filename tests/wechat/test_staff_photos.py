"""Officers see the photos of a tip filed over WeChat on the staff tip page: waiting while the
job has not fetched them, then shown inline, decrypted with their own keys, without metadata."""

from __future__ import annotations

from flask import Flask

from tests.staff_site.test_triage_pages import sign_in
from tests.wechat.conftest import Chat, jpeg_with_exif
from tests.wechat.test_jobs import file_with_photos, run


def test_the_tip_page_shows_wechat_photos(chat: Chat, staff_app: Flask) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    fake_api.media["MEDIA-1"] = ("image/jpeg", jpeg_with_exif("SECRET-CAMERA"))
    tip_id = file_with_photos(wx, dbs, settings, ["MEDIA-1"])
    client = sign_in(staff_app, ready, ready.city)
    client.post("/language", data={"lang": "en"})

    page = client.get(f"/triage/tips/{tip_id}").get_data(as_text=True)
    assert "Photos sent over WeChat" in page
    assert "Photo 1: waiting to be downloaded from WeChat" in page

    run(dbs, clock, settings)
    page = client.get(f"/triage/tips/{tip_id}").get_data(as_text=True)
    assert "waiting to be downloaded" not in page
    [url] = [
        part.split('"')[0]
        for part in page.split('src="')[1:]
        if "/wechat-photos/" in part.split('"')[0]
    ]
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data[:2] == b"\xff\xd8"
    assert b"SECRET-CAMERA" not in response.data
