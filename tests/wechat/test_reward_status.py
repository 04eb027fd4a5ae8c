"""A status query over WeChat tells the reporter about the reward: being worked out, offered
(amount and claim deadline, claimed on the web), paid."""

from __future__ import annotations

from rewards.models import RewardState
from tests.rewards.conftest import RewardWorld
from tests.wechat.conftest import Chat
from tests.wechat.test_conversation import t
from triage.deadlines import last_day


def test_the_status_carries_the_reward(chat: Chat) -> None:
    wx, ready, *_ = chat.parts()
    rw = RewardWorld(ready)

    considered = rw.concluded()
    assert t("A reward for your report is being worked out.") in wx.text(rw.tokens[considered])

    offered, reward_id = rw.to_state(RewardState.OFFERED)
    reply = wx.text(rw.tokens[offered])
    amount = "3,000.00"  # 15 % of the ¥20,000 fine: the national minimum
    end = rw.reward(offered).claim_deadline
    assert end is not None
    deadline = last_day(end)
    assert amount in reply
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日" in reply
    assert "https://localhost/status" in reply

    rw.claim(offered)
    rw.pay(reward_id, voucher="记-0001")
    assert t("Your reward of %(amount)s yuan was paid on %(date)s.").split("%")[0] in wx.text(
        rw.tokens[offered]
    )
