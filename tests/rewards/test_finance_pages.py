"""The finance pages through the staff app: the list by state, a reward carried from the
penalty decision to the payment by two people posting real forms, the payment details opened
(audited) by finance only, totals by month and division, the Excel export, and the access
matrix (who may open which page, and what they see)."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from core.accounts import services as accounts
from core.audit.models import AuditRecord
from rewards.models import Reward, RewardState
from staff_site.forms.rewards import parse_yuan
from tests.conftest import csrf_token
from tests.rewards.conftest import FINANCE_PEOPLE, RewardWorld
from tests.triage.conftest import Staff


def sign_in(app: Flask, staff: Staff, rw: RewardWorld) -> FlaskClient:
    """A client with a full session holding the user's personal key, in English."""
    client = app.test_client()
    cookie = accounts.open_session(
        rw.w.dbs, rw.w.clock, rw.w.settings, staff.user, personal_private_key=staff.key
    )
    rw.w.dbs.flush()
    with client.session_transaction() as flask_session:
        flask_session["sid"] = cookie
        flask_session["lang"] = "en"
    return client


def page_of(reward_id: uuid.UUID) -> str:
    return f"/rewards/{reward_id}"


def post(client: FlaskClient, reward_id: uuid.UUID, path: str, name: str, **fields: Any) -> Any:
    token = csrf_token(client, page_of(reward_id))
    data = {f"{name}-csrf_token": token, **{f"{name}-{k}": v for k, v in fields.items()}}
    return client.post(f"{page_of(reward_id)}/{path}", data=data)


def follow(client: FlaskClient, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))


class People:
    """A signed-in client per person, made when asked for (so a test can first move the clock
    past the idle timeout, as driving a reward to a state does)."""

    def __init__(self, app: Flask, rw: RewardWorld) -> None:
        self.app, self.rw = app, rw

    def __getitem__(self, name: str) -> FlaskClient:
        if name in FINANCE_PEOPLE:
            return sign_in(self.app, self.rw.finance(name), self.rw)
        return sign_in(self.app, self.rw.w.staff(name), self.rw)


@pytest.fixture
def people(staff_app: Flask, rw: RewardWorld) -> People:
    return People(staff_app, rw)


def test_parse_yuan() -> None:
    assert parse_yuan("3000") == 300_000
    assert parse_yuan("¥3,000.5") == 300_050
    assert parse_yuan(" ３０００．０１ 元") == 300_001
    for bad in ("", "-1", "1.001", "abc", "1e3"):
        with pytest.raises(ValueError, match=r".*"):
            parse_yuan(bad)


def test_a_reward_from_decision_to_payment_through_the_pages(
    staff_app: Flask, rw: RewardWorld, people: People
) -> None:
    officer, approver = people["officer"], people["approver"]
    tip_id = rw.concluded()
    reward_id = rw.reward(tip_id).id
    listing = officer.get("/rewards/").get_data(as_text=True)
    assert f'data-reward="{reward_id}"' in listing
    assert 'data-state="awaiting_penalty_decision">1<' in listing

    # The decision: two fines (yuan) added together.
    refused = post(
        officer, reward_id, "decision", "decision",
        kind="hazard", fines="10000\nabc", decision_number="张民罚决字〔2026〕12号",
        decision_date=rw.today().isoformat(),
    )  # fmt: skip
    assert refused.status_code == 400
    assert "Each line is one fine in yuan" in refused.get_data(as_text=True)
    page = follow(
        officer,
        post(
            officer, reward_id, "decision", "decision",
            kind="hazard", fines="10,000\n15000.00", decision_number="张民罚决字〔2026〕12号",
            decision_date=rw.today().isoformat(),
        ),
    )  # fmt: skip
    assert "The penalty decision is recorded." in page
    assert "¥10,000.00 + ¥15,000.00" in page
    assert 'id="form-calculate"' in page

    page = follow(
        officer, post(officer, reward_id, "calculate", "calculate", exclusions=[], rule_set="")
    )
    assert "The reward is calculated" in page
    assert "¥3,750.00" in page
    assert "Reward: ¥3,750.00." in page  # the explanation, in English
    assert 'id="form-approve"' not in page  # the officer cannot approve

    page = approver.get(page_of(reward_id)).get_data(as_text=True)
    assert 'id="form-approve"' in page
    page = follow(approver, post(approver, reward_id, "approve", "approve"))
    assert "The reward is approved." in page
    assert 'id="offer-after"' in page  # the objection window is still open
    rw.w.clock.advance(days=11)
    # Eleven days later: new logins (the sessions timed out meanwhile).
    officer = sign_in(staff_app, rw.finance("officer"), rw)
    approver = sign_in(staff_app, rw.finance("approver"), rw)
    page = follow(approver, post(approver, reward_id, "offer", "offer"))
    assert "The reward is offered" in page
    assert rw.reward(tip_id).state is RewardState.OFFERED

    rw.claim(tip_id)
    page = officer.get(page_of(reward_id)).get_data(as_text=True)
    assert 'id="form-details"' in page
    assert "6222021102034567890" not in page
    shown = post(officer, reward_id, "details", "details")
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert 'id="account-number">6222021102034567890<' in text
    assert "张三" in text
    opened = rw.w.dbs.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "reward.payment_details_opened",
            AuditRecord.object_id == str(reward_id),
        )
    ).all()
    assert [r.actor_label for r in opened] == ["fin-officer"]

    wrong = post(
        officer, reward_id, "payment", "payment",
        voucher_number="记-2026-0100", paid_on=rw.today().isoformat(), amount="3750.01",
    )  # fmt: skip
    assert wrong.status_code == 400
    assert "The amount paid must be the approved amount, 3,750.00 yuan." in wrong.get_data(
        as_text=True
    )
    page = follow(
        officer,
        post(
            officer, reward_id, "payment", "payment",
            voucher_number="记-2026-0100", paid_on=rw.today().isoformat(), amount="3,750.00",
        ),
    )  # fmt: skip
    assert "The payment is recorded" in page
    assert "记-2026-0100" in page
    assert rw.reward(tip_id).state is RewardState.PAID


def test_the_calculator_is_not_offered_the_approval(staff_app: Flask, rw: RewardWorld) -> None:
    tip_id = rw.concluded()
    reward = rw.reward(tip_id)
    both = sign_in(staff_app, rw.finance("both"), rw)
    follow(
        both,
        post(
            both, reward.id, "decision", "decision",
            kind="hazard", fines="20000", decision_number="张民罚决字〔2026〕13号",
            decision_date=rw.today().isoformat(),
        ),
    )  # fmt: skip
    page = follow(both, post(both, reward.id, "calculate", "calculate", rule_set=""))
    assert 'id="form-approve"' not in page
    assert 'id="second-person"' in page
    refused = post(both, reward.id, "approve", "approve")
    assert refused.status_code == 403
    assert rw.reward(tip_id).state is RewardState.CALCULATED


def test_a_step_done_twice_is_refused_on_the_page(rw: RewardWorld, people: People) -> None:
    _, reward_id = rw.to_state(RewardState.APPROVED)
    again = post(people["approver"], reward_id, "approve", "approve")
    assert again.status_code == 409
    assert "This step is not possible in the reward" in again.get_data(as_text=True)


# ---------------------------------------------------------------- access matrix

#: Who may open which page: the list, a reward, the totals, the export.
READ = {
    "officer": (200, 200, 200, 200),
    "approver": (200, 200, 200, 200),
    "triage_own": (200, 200, 403, 403),
    "triage_other": (200, 403, 403, 403),
    "supervisor": (200, 200, 200, 403),
    "case_officer": (403, 403, 403, 403),
    "auditor": (403, 403, 403, 403),
    "administrator": (403, 403, 403, 403),
}


@pytest.mark.parametrize("who", list(READ))
def test_who_opens_which_page(rw: RewardWorld, people: People, who: str) -> None:
    _, reward_id = rw.to_state(RewardState.CLAIMED)
    client = people[who]
    got = tuple(
        client.get(path).status_code
        for path in ("/rewards/", page_of(reward_id), "/rewards/totals", "/rewards/export.xlsx")
    )
    assert got == READ[who]
    if got[0] == 200:
        listing = client.get("/rewards/").get_data(as_text=True)
        assert (f'data-reward="{reward_id}"' in listing) is (got[1] == 200)


@pytest.mark.parametrize("who", ["triage_own", "supervisor", "case_officer", "auditor"])
def test_only_finance_acts_and_opens_payment_details(
    rw: RewardWorld, people: People, who: str
) -> None:
    _, calculated = rw.to_state(RewardState.CALCULATED)
    _, claimed = rw.to_state(RewardState.CLAIMED)
    client = people[who]
    token = csrf_token(client, "/account")  # their own, valid token
    for reward_id, path, name in (
        (calculated, "approve", "approve"),
        (calculated, "send-back", "send_back"),
        (claimed, "details", "details"),
        (claimed, "payment", "payment"),
    ):
        response = client.post(f"{page_of(reward_id)}/{path}", data={f"{name}-csrf_token": token})
        assert response.status_code == 403
    page = client.get(page_of(claimed))
    if page.status_code == 200:
        text = page.get_data(as_text=True)
        assert 'id="form-details"' not in text
        assert 'id="steps"' not in text
    opened = rw.w.dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "reward.payment_details_opened")
    ).all()
    assert opened == []


def test_a_triage_officer_posting_with_a_valid_token_is_refused(
    rw: RewardWorld, people: People
) -> None:
    _, calculated = rw.to_state(RewardState.CALCULATED)
    _, claimed = rw.to_state(RewardState.CLAIMED)
    client = people["triage_own"]
    token = csrf_token(client, page_of(claimed))
    assert (
        client.post(
            f"{page_of(calculated)}/approve", data={"approve-csrf_token": token}
        ).status_code
        == 403
    )
    assert (
        client.post(f"{page_of(claimed)}/details", data={"details-csrf_token": token}).status_code
        == 403
    )
    reward = rw.w.dbs.get(Reward, calculated)
    assert reward is not None
    rw.w.dbs.refresh(reward)
    assert reward.state is RewardState.CALCULATED


def test_finance_cannot_open_the_tip_page(rw: RewardWorld, people: People) -> None:
    tip_id, _ = rw.to_state(RewardState.CLAIMED)
    for who in ("officer", "approver"):
        assert people[who].get(f"/triage/tips/{tip_id}").status_code == 403
    page = people["officer"].get(page_of(rw.reward(tip_id).id)).get_data(as_text=True)
    assert "敬老院厨房燃气管道" not in page  # the report's description


def test_finance_without_the_key_is_told_so(rw: RewardWorld, people: People) -> None:
    _, reward_id = rw.to_state(RewardState.CLAIMED)
    client = people["officer_keyless"]
    response = post(client, reward_id, "details", "details")
    assert response.status_code == 403
    assert "You hold no key of the finance key group" in response.get_data(as_text=True)


# ---------------------------------------------------------------- totals and export


def test_totals_by_month_and_division(rw: RewardWorld, people: People) -> None:
    rw.to_state(RewardState.PAID)
    rw.to_state(RewardState.PAID)
    other_tip = rw.concluded(division=rw.w.other)
    rw.record_decision(rw.reward(other_tip).id)
    page = people["officer"].get("/rewards/totals?year=2026").get_data(as_text=True)
    assert "杨舍镇" in page
    assert 'id="grand-total">¥6,000.00<' in page
    month = rw.today().strftime("%Y-%m")
    assert f'data-month="{month}"' in page
    assert "(2)" in page
    assert people["officer"].get("/rewards/totals?year=1999").status_code == 400
    empty = people["officer"].get("/rewards/totals?year=2025").get_data(as_text=True)
    assert "No payments in 2025." in empty


def test_excel_export(rw: RewardWorld, people: People) -> None:
    paid_tip, paid = rw.to_state(RewardState.PAID)
    rw.to_state(RewardState.CALCULATED)
    response = people["approver"].get("/rewards/export.xlsx?state=paid")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "奖励编号 Reward id"
    assert len(rows) == 2  # the heading and the one paid reward
    row = rows[1]
    assert row[0] == str(paid)
    assert row[3] == "已支付"
    assert row[7] == 3000.0
    assert row[16] == rw.reward(paid_tip).voucher_number
    text = " ".join(str(v) for r in rows for v in r if v is not None)
    for secret in ("张三", "6222", "工商银行"):
        assert secret not in text
    exported = rw.w.dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "reward.exported")
    ).all()
    assert len(exported) == 1
    assert re.search(r'"rows":1', exported[0].details)


@pytest.mark.parametrize("state", list(RewardState))
def test_the_reward_page_in_every_state(
    rw: RewardWorld, people: People, state: RewardState
) -> None:
    _, reward_id = rw.to_state(state)
    if state is RewardState.APPROVED:
        assert 'id="offer-after"' in people["officer"].get(page_of(reward_id)).get_data(
            as_text=True
        )
        rw.w.clock.advance(days=11)  # past the objection window: the offer can be made
    for who in ("officer", "approver", "supervisor"):
        response = people[who].get(page_of(reward_id))
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert 'id="reward-state"' in text
        assert 'id="reward-history"' in text
    officer_page = people["officer"].get(page_of(reward_id)).get_data(as_text=True)
    approver_page = people["approver"].get(page_of(reward_id)).get_data(as_text=True)
    expected_forms = {
        RewardState.AWAITING_PENALTY_DECISION: ({"decision"}, set()),
        RewardState.CALCULATED: (set(), {"approve", "send_back"}),
        RewardState.APPROVED: ({"offer"}, {"offer"}),
        RewardState.CLAIMED: ({"details", "payment"}, {"details"}),
        RewardState.PAID: ({"details"}, {"details"}),
    }.get(state, (set(), set()))
    for page, wanted in zip((officer_page, approver_page), expected_forms, strict=True):
        present = set(re.findall(r'id="form-([a-z_]+)"', page))
        assert present == wanted, (state, present)


def test_an_in_person_claim_asks_for_the_claim_code(rw: RewardWorld, people: People) -> None:
    from rewards import services as rewards
    from rewards.models import PaymentMethod

    tip_id, reward_id = rw.to_state(RewardState.OFFERED)
    code = rw.claim(tip_id, rewards.ClaimDetails(PaymentMethod.IN_PERSON)).claim_code
    officer = people["officer"]
    page = officer.get(page_of(reward_id)).get_data(as_text=True)
    assert 'name="payment-claim_code"' in page
    fields = {"voucher_number": "记-2026-0200", "paid_on": rw.today().isoformat(), "amount": "3000"}
    refused = post(officer, reward_id, "payment", "payment", claim_code="1234", **fields)
    assert refused.status_code == 400
    assert "The claim code does not match this reward." in refused.get_data(as_text=True)
    done = follow(
        officer, post(officer, reward_id, "payment", "payment", claim_code=code, **fields)
    )
    assert "The payment is recorded" in done
