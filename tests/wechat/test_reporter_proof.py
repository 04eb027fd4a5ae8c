"""A tip filed over WeChat gets its reporter proof's hash like one filed on the web: the channel
stores through ``intake.services.receive_tip`` (``tests/intake/test_reporter_proof.py`` has
the rest)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from intake import services as intake_services
from intake.access import reporter_proof_sha256
from intake.models import Channel, Tip
from tests.triage.conftest import World
from tests.wechat.conftest import WeChat
from tests.wechat.test_conversation import file_tip, token_in


def test_a_wechat_tip_stores_the_hash_of_its_proof(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    token = token_in(file_tip(wx, dbs))
    access = intake_services.unlock_with_token(dbs, settings, token)
    tip = dbs.get(Tip, access.tip_id)
    assert tip is not None
    assert tip.channel is Channel.WECHAT
    stored = dbs.scalar(select(Tip.reporter_proof_sha256).where(Tip.id == access.tip_id))
    assert stored is not None
    assert stored == reporter_proof_sha256(access.tip_id, access.data_key)
