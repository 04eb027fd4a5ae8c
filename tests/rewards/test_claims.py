"""Claims: the reporter claims with the token (services and the public site), the details are
sealed to the finance key group only and opened there (audited), nobody else reads them, and
the bank details never reach the database in the clear (a scan of the stored bytes)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, make_url, select, update

from core import db
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.errors import Forbidden
from core.keys import services as keys
from core.keys.models import GroupKey
from core.keys.pins import KeyPins
from crypto import envelope
from intake import errors as intake_errors
from public_site.limits import limiter_of
from rewards import errors
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardState
from rewards.services.claims import CLAIM_KIND, PAYMENT_FIELD
from tests.conftest import ON_POSTGRES, csrf_token
from tests.intake.test_canary import as_bytes, canary, find, flatten, pg_dump, text_needles
from tests.rewards.conftest import BANK, RewardWorld
from tests.rewards.instance import Instance, committed
from triage import services as triage

__all__ = ["committed"]


# ---------------------------------------------------------------- services


def test_a_bank_claim_is_sealed_to_finance_and_opened_there(rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(RewardState.OFFERED)
    receipt = rw.claim(tip_id)
    assert receipt.claim_code is None
    assert receipt.method is PaymentMethod.BANK_TRANSFER
    reward = rw.reward(tip_id)
    finance = keys.find_group(rw.w.dbs, keys.FINANCE)
    assert finance is not None
    assert (reward.state, reward.claim_group_id) == (RewardState.CLAIMED, finance.id)
    assert reward.claim_code_hash is None
    stored = (reward.payment_enc or b"") + (reward.claim_key_sealed or b"")
    for clear in ("张三".encode(), "工商银行".encode(), b"6222", b"0203"):
        assert clear not in stored
    opened = rewards.open_payment_details(
        *rw.args("approver"), reward_id, personal_key=rw.finance("approver").key
    )
    assert (opened.method, opened.account_name, opened.bank, opened.account_number) == (
        PaymentMethod.BANK_TRANSFER,
        "张三",
        "中国工商银行张家港支行",
        "6222021102034567890",
    )
    assert "张三" not in repr(opened)
    record = rw.w.audit()[-1]
    assert (record.action, record.object_id) == ("reward.payment_details_opened", str(reward_id))
    assert record.actor_label == "fin-approver"
    assert "6222" not in record.details
    assert "张三" not in record.details


def test_the_triage_keys_cannot_open_the_claim(rw: RewardWorld) -> None:
    """The claim key is sealed to the finance group alone: not the tip's triage groups."""
    tip_id, reward_id = rw.to_state(RewardState.CLAIMED)
    reward = rw.reward(tip_id)
    city = keys.find_group(rw.w.dbs, keys.CITY_TRIAGE)
    assert city is not None
    city_key = keys.unlock_group(rw.w.dbs, rw.w.city.user, rw.w.city.key, city.id, 1)
    with pytest.raises(Exception, match="cannot open"):
        envelope.open_data_key(
            city_key,
            reward.claim_key_sealed or b"",
            tip_id=tip_id,
            group_id=reward.claim_group_id or 0,
            group_version=reward.claim_group_version or 0,
        )
    tip_data_key = rw.access(tip_id).data_key
    with pytest.raises(Exception, match="cannot open"):
        envelope.decrypt_text(
            tip_data_key,
            reward.payment_enc or b"",
            tip_id=tip_id,
            kind=CLAIM_KIND,
            object_id=reward_id,
            field_name=PAYMENT_FIELD,
        )


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("triage_own", Forbidden),
        ("triage_city", Forbidden),
        ("supervisor", Forbidden),
        ("case_officer", Forbidden),
        ("administrator", Forbidden),
        ("auditor", Forbidden),
    ],
)
def test_no_one_but_finance_opens_payment_details(
    rw: RewardWorld, who: str, error: type[Exception]
) -> None:
    _, reward_id = rw.to_state(RewardState.CLAIMED)
    staff = rw.w.staff(who)
    before = len(rw.w.audit())
    with pytest.raises(error):
        rewards.open_payment_details(*rw.w.args(staff), reward_id, personal_key=staff.key)
    assert len(rw.w.audit()) == before


def test_finance_without_the_group_key_or_out_of_scope_cannot_open(rw: RewardWorld) -> None:
    _, reward_id = rw.to_state(RewardState.CLAIMED)
    with pytest.raises(errors.NotInFinanceGroup):
        rewards.open_payment_details(
            *rw.args("officer_keyless"), reward_id, personal_key=rw.finance("officer_keyless").key
        )
    with pytest.raises(Forbidden):
        rewards.open_payment_details(
            *rw.args("officer_other"), reward_id, personal_key=rw.finance("officer_other").key
        )
    # The wrong personal key for the user: the grant does not open.
    with pytest.raises(errors.NotInFinanceGroup):
        rewards.open_payment_details(
            *rw.args("officer"), reward_id, personal_key=rw.finance("approver").key
        )


def test_details_swapped_in_the_database_are_refused(rw: RewardWorld) -> None:
    """Anyone may seal to the finance public key; the audit chain's hashes of the claim's
    envelopes stop a database writer from putting their own account in its place."""
    tip_id, reward_id = rw.to_state(RewardState.CLAIMED)
    reward = rw.reward(tip_id)
    finance = keys.find_group(rw.w.dbs, keys.FINANCE)
    assert finance is not None
    public = keys.current_key(rw.w.dbs, finance).public_key
    forged_key = envelope.new_data_key()
    forged = json.dumps(
        {
            "method": "bank_transfer",
            "account_name": "骗子",
            "bank": "某银行",
            "account_number": "6200000000000000000",
        },
        ensure_ascii=False,
    )
    rw.w.dbs.execute(
        update(Reward)
        .where(Reward.id == reward_id)
        .values(
            payment_enc=envelope.encrypt_text(
                forged_key, forged, tip_id=tip_id, kind=CLAIM_KIND, object_id=reward_id,
                field_name=PAYMENT_FIELD,
            ),
            claim_key_sealed=envelope.seal_data_key(
                public, forged_key, tip_id=tip_id, group_id=reward.claim_group_id or 0,
                group_version=reward.claim_group_version or 0,
            ),
        )
    )  # fmt: skip
    with pytest.raises(errors.PaymentDetailsDamaged):
        rewards.open_payment_details(
            *rw.args("officer"), reward_id, personal_key=rw.finance("officer").key
        )


def test_the_token_is_needed_again(rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    other = rw.submit()
    access = rw.access(tip_id)
    base: dict[str, Any] = {"details": BANK, "pins": KeyPins(None)}
    with pytest.raises(intake_errors.UnknownToken):  # another tip's token
        rewards.claim_reward(
            rw.w.dbs, rw.w.clock, rw.w.settings, access, token_text=rw.tokens[other], **base
        )
    typo = rw.tokens[tip_id][:-1] + ("A" if rw.tokens[tip_id][-1] != "A" else "B")
    with pytest.raises(intake_errors.TokenTypo):
        rewards.claim_reward(rw.w.dbs, rw.w.clock, rw.w.settings, access, token_text=typo, **base)
    with pytest.raises(intake_errors.UnknownToken):
        rewards.decline_reward(
            rw.w.dbs, rw.w.clock, rw.w.settings, access, token_text=rw.tokens[other]
        )
    assert rw.reward(tip_id).state is RewardState.OFFERED


@pytest.mark.parametrize(
    ("details", "error"),
    [
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "张三", "工行", "1234567"),
         errors.AccountNumberInvalid),
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "张三", "工行", "62220211020345678901234567890123"),
         errors.AccountNumberInvalid),
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "张三", "工行", "6222-02AB-0203"),
         errors.AccountNumberInvalid),
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "", "工行", "6222021102034567890"),
         errors.ClaimDetailsInvalid),
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "张三", " ", "6222021102034567890"),
         errors.ClaimDetailsInvalid),
        (rewards.ClaimDetails(PaymentMethod.BANK_TRANSFER, "张\u0000三", "工行", "6222021102034567890"),
         errors.ClaimDetailsInvalid),
    ],
)  # fmt: skip
def test_incomplete_bank_details_are_refused(
    rw: RewardWorld, details: rewards.ClaimDetails, error: type[Exception]
) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    with pytest.raises(error):
        rw.claim(tip_id, details)
    assert rw.reward(tip_id).state is RewardState.OFFERED


def test_one_claim_only_and_none_after_the_deadline(rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    rw.claim(tip_id)
    with pytest.raises(errors.NothingToClaim):
        rw.claim(tip_id)
    late, _ = rw.to_state(RewardState.OFFERED)
    rw.w.clock.advance(days=rw.w.settings.reward_claim_days + 1)
    with pytest.raises(errors.ClaimWindowClosed):
        rw.claim(late)
    seen = rewards.reporter_offer(rw.w.dbs, rw.w.clock, late)
    assert seen is not None
    assert not seen.can_claim
    early = rw.concluded()
    with pytest.raises(errors.NothingToClaim):
        rw.claim(early)


def test_a_claim_needs_a_signed_current_finance_key(rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    finance = keys.find_group(rw.w.dbs, keys.FINANCE)
    assert finance is not None
    pins = KeyPins(None)
    pins.observe(keys.FINANCE, 2)  # this site has seen version 2: version 1 is a rollback
    with pytest.raises(errors.FinanceKeyMissing):
        rewards.claim_reward(
            rw.w.dbs, rw.w.clock, rw.w.settings, rw.access(tip_id),
            token_text=rw.tokens[tip_id], details=BANK, pins=pins,
        )  # fmt: skip
    with rw.w.dbs.begin_nested() as nested:
        rw.w.dbs.execute(
            update(GroupKey)
            .where(GroupKey.group_id == finance.id)
            .values(public_key=envelope.generate_keypair().public_key)
        )
        with pytest.raises(errors.FinanceKeyMissing):
            rw.claim(tip_id)
        nested.rollback()
    assert rw.reward(tip_id).state is RewardState.OFFERED


def test_finance_cannot_read_the_tip(rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.CLAIMED)
    for name in ("officer", "approver"):
        staff = rw.finance(name)
        with pytest.raises(Forbidden):
            triage.open_tip(*rw.args(name), tip_id, personal_key=staff.key)
    detail = rewards.reward_detail(
        rw.w.dbs, rw.w.clock, rw.finance("officer").user, rw.reward(tip_id).id
    )
    assert not hasattr(detail.tip, "content")


# ---------------------------------------------------------------- the public site


@pytest.fixture
def site(public_app: Flask, rw: RewardWorld) -> FlaskClient:
    limiter_of(public_app).enabled = False
    client = public_app.test_client()
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": "en"})
    return client


def enter(client: FlaskClient, token: str) -> None:
    response = client.post(
        "/status", data={"csrf_token": csrf_token(client, "/status"), "token": token}
    )
    assert response.status_code == 303


def status_text(client: FlaskClient) -> str:
    page = client.get("/status/report")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_reporter_claims_on_the_site_and_later_sees_it_paid(
    site: FlaskClient, rw: RewardWorld
) -> None:
    tip_id, reward_id = rw.to_state(RewardState.OFFERED)
    token = rw.tokens[tip_id]
    enter(site, token)
    text = status_text(site)
    assert 'id="reward"' in text
    assert "¥3,000.00" in text
    assert "Claim it by the end of" in text
    assert "/reward/claim" in text
    form = site.get("/reward/claim")
    assert form.status_code == 200
    body = {
        "csrf_token": csrf_token(site, "/reward/claim"),
        "method": "bank_transfer",
        "account_name": "张三",
        "bank": "中国工商银行张家港支行",
        "account_number": "6222 0211 0203 4567 890",
        "token": token.lower(),
    }
    # Without the account number: the form says what is missing, nothing is stored.
    refused = site.post("/reward/claim", data={**body, "account_number": ""})
    assert refused.status_code == 400
    assert "Needed for a bank transfer." in refused.get_data(as_text=True)
    assert rw.reward(tip_id).state is RewardState.OFFERED
    done = site.post("/reward/claim", data=body)
    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert "Your reward is claimed" in page
    assert 'id="claim-code"' not in page
    assert "6222" not in page  # the details are not echoed
    assert rw.reward(tip_id).state is RewardState.CLAIMED
    assert "You claimed the reward on" in status_text(site)
    rw.pay(reward_id)
    text = status_text(site)
    assert "The reward was paid on" in text
    assert "¥3,000.00" in text
    opened = rewards.open_payment_details(
        *rw.args("officer"), reward_id, personal_key=rw.finance("officer").key
    )
    assert opened.account_number == "6222021102034567890"


def test_collection_in_person_shows_the_claim_code_once(site: FlaskClient, rw: RewardWorld) -> None:
    tip_id, reward_id = rw.to_state(RewardState.OFFERED)
    token = rw.tokens[tip_id]
    enter(site, token)
    done = site.post(
        "/reward/claim",
        data={
            "csrf_token": csrf_token(site, "/reward/claim"),
            "method": "in_person",
            "token": token,
        },
    )
    assert done.status_code == 200
    match = re.search(r'id="claim-code">([0-9-]{24})<', done.get_data(as_text=True))
    assert match, "no claim code on the page"
    code = match.group(1)
    assert code not in status_text(site)
    for header in done.headers.getlist("Set-Cookie"):
        assert code not in header
        assert code.replace("-", "") not in header
    assert done.headers["Cache-Control"] == "no-store"
    rw.pay(reward_id, code=code)
    assert rw.reward(tip_id).state is RewardState.PAID


def test_a_wrong_token_on_the_claim_form(site: FlaskClient, rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    other = rw.submit()
    enter(site, rw.tokens[tip_id])
    refused = site.post(
        "/reward/claim",
        data={
            "csrf_token": csrf_token(site, "/reward/claim"),
            "method": "in_person",
            "token": rw.tokens[other],
        },
    )
    assert refused.status_code == 404  # as for an unknown token
    assert 'id="claim-form"' in refused.get_data(as_text=True)
    assert rw.reward(tip_id).state is RewardState.OFFERED


def test_the_reporter_declines_on_the_site(site: FlaskClient, rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    token = rw.tokens[tip_id]
    enter(site, token)
    unticked = site.post(
        "/reward/decline", data={"csrf_token": csrf_token(site, "/reward/decline"), "token": token}
    )
    assert unticked.status_code == 400
    assert rw.reward(tip_id).state is RewardState.OFFERED
    done = site.post(
        "/reward/decline",
        data={"csrf_token": csrf_token(site, "/reward/decline"), "token": token, "confirm": "y"},
    )
    assert done.status_code == 303
    assert rw.reward(tip_id).state is RewardState.DECLINED
    text = status_text(site)
    assert "You have declined the reward." in text
    assert "You declined the reward on" in text
    # Nothing left to claim: the claim page sends the reporter back.
    assert site.get("/reward/claim").status_code == 303


def test_the_claim_pages_need_a_session_and_an_open_offer(
    site: FlaskClient, rw: RewardWorld
) -> None:
    assert site.get("/reward/claim").headers["Location"] == "/status"
    assert site.get("/reward/decline").headers["Location"] == "/status"
    tip_id = rw.concluded()
    enter(site, rw.tokens[tip_id])
    assert "a reward under the reward rules is being considered" in status_text(site)
    response = site.get("/reward/claim")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/status/report")


def test_the_reward_area_on_the_chinese_page(public_app: Flask, rw: RewardWorld) -> None:
    limiter_of(public_app).enabled = False
    client = public_app.test_client()
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    enter(client, rw.tokens[tip_id])
    text = status_text(client)
    assert 'lang="zh-CN"' in text
    assert 'id="reward-amount"><strong>¥3,000.00</strong>' in text


# ---------------------------------------------------------------- the stored bytes


def _scan_setup(inst: Instance) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """Claims with canary details (bank and in person), opened by finance and paid, every step
    committed; the needles, the control (stored in the clear on purpose) and a list that
    collects the bound parameters carrying a needle."""
    name, bank = canary("account name"), canary("bank")
    number = "".join(str(int(b) % 10) for b in os.urandom(19))
    needles = {**text_needles("account name", name), **text_needles("bank", bank)}
    needles["account number"] = number.encode()
    needles["account number (UTF-16)"] = number.encode("utf-16-le")
    needles["account number (grouped)"] = " ".join([number[:4], number[4:8], number[8:]]).encode()
    violations: list[str] = []

    def hook(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _m: bool) -> None:
        for value in [statement, *flatten(parameters)]:
            violations.extend(find(as_bytes(value), needles))

    event.listen(inst.engine, "before_cursor_execute", hook)
    tip_id, reward_id, token = inst.drive(RewardState.OFFERED)
    inst.claim(
        tip_id,
        token,
        rewards.ClaimDetails(
            PaymentMethod.BANK_TRANSFER,
            account_name=name,
            bank=bank,
            account_number=" ".join([number[:4], number[4:8], number[8:]]),
        ),
    )
    in_person_tip, in_person_id, in_person_token = inst.drive(RewardState.OFFERED)
    receipt = inst.claim(
        in_person_tip, in_person_token, rewards.ClaimDetails(PaymentMethod.IN_PERSON)
    )
    assert receipt.claim_code is not None
    needles["claim code"] = receipt.claim_code.encode()
    needles["claim code (digits)"] = receipt.claim_code.replace("-", "").encode()
    with db.unit_of_work(inst.factory) as session:
        opened = rewards.open_payment_details(
            session, inst.clock, inst.settings, inst.user(session, "officer"), reward_id,
            personal_key=inst.keys_of["officer"],
        )  # fmt: skip
        assert (opened.account_name, opened.bank, opened.account_number) == (name, bank, number)
    from triage.deadlines import local_date

    with db.unit_of_work(inst.factory) as session:
        user = inst.user(session, "officer")
        today = local_date(inst.clock.now())
        rewards.record_payment(
            session, inst.clock, inst.settings, user, reward_id,
            payment=rewards.Payment("记-9001", today, 450_000),
        )  # fmt: skip
        rewards.record_payment(
            session, inst.clock, inst.settings, user, in_person_id,
            payment=rewards.Payment("记-9002", today, 450_000, receipt.claim_code),
        )  # fmt: skip
    event.remove(inst.engine, "before_cursor_execute", hook)
    control = canary("control")
    with db.unit_of_work(inst.factory) as session:
        # In the clear on purpose: the scan must find this one.
        audit.record(
            session, inst.clock, audit.SYSTEM_ACTOR, "test.control", "test", None,
            {"note": control},
        )  # fmt: skip
    return needles, text_needles("control", control), violations


def test_bank_details_never_reach_the_database_in_the_clear(
    committed: Instance, tmp_path: Path
) -> None:
    inst = committed
    needles, control, violations = _scan_setup(inst)
    assert not violations, violations
    if ON_POSTGRES:
        url = make_url(inst.settings.database_url).set(drivername="postgresql")
        dump = tmp_path / "dump.sql"
        subprocess.run(
            [pg_dump(), "--format=plain", "--no-owner", f"--schema={inst.schema}",
             f"--file={dump}", url.render_as_string(hide_password=False)],
            check=True, timeout=120,
        )  # fmt: skip
        blobs = {"pg_dump": dump.read_bytes()}
        assert b"COPY " + (inst.schema or "").encode() + b".rewards" in blobs["pg_dump"]
    else:
        database = Path(inst.settings.database_url.removeprefix("sqlite:///"))
        keeper = sqlite3.connect(database)
        try:
            keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            keeper.close()
        blobs = {str(p): p.read_bytes() for p in database.parent.glob(database.name + "*")}
    assert any(find(blob, control) for blob in blobs.values()), "the scan sees nothing"
    leaks = {name: hits for name, blob in blobs.items() if (hits := find(blob, needles))}
    assert not leaks, f"found in the clear: {leaks}"
    with inst.factory() as session:
        rows = session.scalars(select(AuditRecord.details)).all()
    assert not find(" ".join(rows).encode(), needles)
