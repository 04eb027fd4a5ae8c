"""The reward through the public JSON API: ``GET /api/v1/tip`` carries it, and a mini-program
or H5 client claims or declines it with the bearer credential and the token typed again."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from public_site.limits import limiter_of
from rewards import services as rewards
from rewards.models import PaymentMethod, RewardState
from tests.rewards.conftest import RewardWorld
from triage.deadlines import last_day


@pytest.fixture
def api(public_app: Flask, rw: RewardWorld) -> FlaskClient:
    limiter_of(public_app).enabled = False
    return public_app.test_client()


def bearer(api: FlaskClient, token: str) -> dict[str, str]:
    response = api.post("/api/v1/session", json={"token": token})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def reward_of(api: FlaskClient, headers: dict[str, str]) -> Any:
    response = api.get("/api/v1/tip", headers=headers)
    assert response.status_code == 200
    return response.get_json()["reward"]


def test_get_tip_carries_the_reward_and_a_bank_claim_goes_to_finance(
    api: FlaskClient, rw: RewardWorld
) -> None:
    submitted = rw.submit()
    assert reward_of(api, bearer(api, rw.tokens[submitted])) is None

    tip_id, reward_id = rw.to_state(RewardState.OFFERED)
    token = rw.tokens[tip_id]
    headers = bearer(api, token)
    offer = reward_of(api, headers)
    assert offer["state"] == "offered"
    assert offer["amount_fen"] == 300_000
    assert offer["can_claim"] is True
    deadline = rw.reward(tip_id).claim_deadline
    assert deadline is not None
    assert offer["claim_deadline"] == last_day(deadline).isoformat()

    claim = {
        "token": token,
        "method": "bank_transfer",
        "account_name": "张三",
        "bank": "中国工商银行张家港支行",
        "account_number": "6222 0211 0203 4567 890",
    }
    refused = api.post(
        "/api/v1/reward/claim", json={**claim, "account_number": "12"}, headers=headers
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {"account_number"}
    assert rw.reward(tip_id).state is RewardState.OFFERED

    claimed = api.post("/api/v1/reward/claim", json=claim, headers=headers)
    assert claimed.status_code == 201
    assert claimed.get_json() == {"method": "bank_transfer", "claim_code": None}
    assert rw.reward(tip_id).state is RewardState.CLAIMED
    opened = rewards.open_payment_details(
        *rw.args("approver"), reward_id, personal_key=rw.finance("approver").key
    )
    assert (opened.method, opened.account_number) == (
        PaymentMethod.BANK_TRANSFER,
        "6222021102034567890",
    )
    again = api.post("/api/v1/reward/claim", json=claim, headers=headers)
    assert again.status_code == 409

    rw.pay(reward_id, voucher="记-API-1")
    paid = reward_of(api, headers)
    assert (paid["state"], paid["paid_on"]) == ("paid", rw.today().isoformat())


def test_collection_in_person_and_declining(api: FlaskClient, rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    headers = bearer(api, rw.tokens[tip_id])
    claimed = api.post(
        "/api/v1/reward/claim",
        json={"token": rw.tokens[tip_id], "method": "in_person"},
        headers=headers,
    )
    assert claimed.status_code == 201
    code = claimed.get_json()["claim_code"]
    assert code is not None
    assert len(code.replace("-", "")) == 20

    other, _ = rw.to_state(RewardState.OFFERED)
    headers = bearer(api, rw.tokens[other])
    wrong = api.post("/api/v1/reward/decline", json={"token": rw.tokens[tip_id]}, headers=headers)
    assert wrong.status_code == 404  # the token of another report
    assert rw.reward(other).state is RewardState.OFFERED
    declined = api.post("/api/v1/reward/decline", json={"token": rw.tokens[other]}, headers=headers)
    assert declined.status_code == 204
    assert rw.reward(other).state is RewardState.DECLINED


@pytest.mark.parametrize(
    "body",
    [
        {"method": "bank_transfer"},  # no token, no details
        {"token": "x", "method": "cheque"},
        {"token": "x", "method": "in_person", "iban": "DE00"},
        {"token": 7, "method": "in_person"},
    ],
)
def test_bad_claims_are_422_and_change_nothing(
    api: FlaskClient, rw: RewardWorld, body: dict[str, Any]
) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    headers = bearer(api, rw.tokens[tip_id])
    response = api.post("/api/v1/reward/claim", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert rw.reward(tip_id).state is RewardState.OFFERED


def test_claims_need_the_bearer_credential(api: FlaskClient, rw: RewardWorld) -> None:
    tip_id, _ = rw.to_state(RewardState.OFFERED)
    response = api.post(
        "/api/v1/reward/claim", json={"token": rw.tokens[tip_id], "method": "in_person"}
    )
    assert response.status_code == 401
    assert rw.reward(tip_id).state is RewardState.OFFERED
