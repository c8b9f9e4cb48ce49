"""Standard JSON envelope and the Slack / Discord / Telegram messages."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from chalicelib.webhooks.events import Event
from chalicelib.webhooks.formats import MAX_PAYLOAD_BYTES, render

OPENED = Event("evt_1", "opportunity.opened", 1_700_000_000_000, {
    "id": "BTC:lighter:paradex", "symbol": "BTC", "long_dex": "lighter", "short_dex": "paradex",
    "divergence": D("0.000125"), "net_profit_percent": D("0.00005"), "annualized_apy": D("5.475"), "hold_hours": D(8)})


def test_standard_is_the_envelope_with_numbers_as_json_numbers() -> None:
    url, body = render("standard", OPENED, url="https://hooks.example.com/x")
    assert url == "https://hooks.example.com/x"
    doc = json.loads(body)
    assert doc == {"id": "evt_1", "type": "opportunity.opened", "timestamp": "2023-11-14T22:13:20Z",
                   "data": {"id": "BTC:lighter:paradex", "symbol": "BTC", "long_dex": "lighter",
                            "short_dex": "paradex", "divergence": 0.000125, "net_profit_percent": 0.00005,
                            "annualized_apy": 5.475, "hold_hours": 8}}


def test_chat_formats_say_it_in_one_line_with_units() -> None:
    # divergence 0.000125 x 100 = 0.0125 % per 8 h; net 0.00005 x 100 = 0.0050 %; 1_700_000_000 s = 2023-11-14T22:13:20Z
    _, slack = render("slack", OPENED, url="https://hooks.slack.com/services/T/B/X")
    text = json.loads(slack)["text"]
    assert text.startswith("Opportunity opened — BTC: long lighter / short paradex")
    assert "divergence 0.0125% per 8 h" in text and "net 0.0050% over 8 h" in text
    _, discord = render("discord", OPENED, url="https://discord.com/api/webhooks/1/x")
    assert json.loads(discord)["content"] == text and json.loads(discord)["allowed_mentions"] == {"parse": []}


def test_telegram_posts_to_the_bot_api_with_chat_id() -> None:
    url, body = render("telegram", OPENED, url="https://api.telegram.org", telegram_chat_id="-100123",
                       telegram_bot_token="123:ABC")
    assert url == "https://api.telegram.org/bot123:ABC/sendMessage"
    assert json.loads(body)["chat_id"] == "-100123"
    with pytest.raises(ValueError, match="bot token"):
        render("telegram", OPENED, url="https://api.telegram.org")


def test_discord_text_is_cut_to_2000_characters_and_payloads_are_capped() -> None:
    long = Event("evt_2", "venue.degraded", 0, {"dex": "grvt", "reason": "x" * 5000})
    _, body = render("discord", long, url="https://discord.com/api/webhooks/1/x")
    assert len(json.loads(body)["content"]) == 2000
    huge = Event("evt_3", "venue.degraded", 0, {"dex": "grvt", "blob": "y" * MAX_PAYLOAD_BYTES})
    with pytest.raises(ValueError, match="exceeds"):
        render("standard", huge, url="https://hooks.example.com/")
