"""What TradingView really sends, decoded and validated: JSON, text/plain JSON, plain sentences."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinelab_core.signals.tradingview import (
    AlertFieldError,
    AlertFormatError,
    alert_template,
    decode_alert_body,
    dedupe_key,
    parse_alert,
    validate_alert,
)
from pinelab_core.types import Action

# The README template after TradingView substituted its placeholders for a strategy's order fill.
FILLED_TEMPLATE = """{
  "ticker": "BTCUSDT",
  "exchange": "BINANCE",
  "interval": "60",
  "time": "2024-01-01T12:00:00Z",
  "action": "sell",
  "price": 42150.5,
  "contracts": 0.25,
  "order_id": "Short Entry",
  "market_position": "short",
  "passphrase": "hunter2"
}"""


def test_the_filled_template_parses_to_every_field() -> None:
    raw = decode_alert_body(FILLED_TEMPLATE.encode(), "application/json")
    alert = validate_alert(raw)
    assert raw.passphrase == "hunter2" and "passphrase" not in raw.fields
    assert (alert.ticker, alert.exchange, alert.action, alert.price, alert.contracts) == (
        "BTCUSDT", "BINANCE", Action.SELL, 42150.5, 0.25)
    assert (alert.order_id, alert.interval, alert.timeframe, alert.market_position) == (
        "Short Entry", "60", "1h", "short")
    assert alert.bar_time == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert alert.direction == -1


def test_the_template_is_valid_json_once_placeholders_are_filled() -> None:
    filled = (alert_template().replace("{{close}}", "101.5").replace("{{strategy.order.contracts}}", "3")
              .replace("{{ticker}}", "AAPL").replace("{{strategy.order.action}}", "buy")
              .replace("{{time}}", "2024-03-01T14:30:00Z").replace("{{interval}}", "1D")
              .replace("{{exchange}}", "NASDAQ").replace("{{strategy.order.id}}", "L1")
              .replace("{{strategy.market_position}}", "long"))
    alert = parse_alert(filled, "text/plain")  # TradingView posts non-JSON-typed messages as text/plain
    assert (alert.ticker, alert.action, alert.price, alert.contracts, alert.timeframe) == (
        "AAPL", Action.BUY, 101.5, 3.0, "1d")


@pytest.mark.parametrize(
    ("body", "ticker", "action", "contracts", "price"),
    [
        ("BUY BTCUSDT @ 43000", "BTCUSDT", Action.BUY, None, 43000.0),
        ("sell 2 ETHUSD at 2300.5", "ETHUSD", Action.SELL, 2.0, 2300.5),
        ("Long 1INCHUSDT", "1INCHUSDT", Action.BUY, None, None),
        ("short   0.5   BINANCE:SOLUSDT @ 101.25", "SOLUSDT", Action.SELL, 0.5, 101.25),
        ("buy ES1! at 5,012.25", "ES1!", Action.BUY, None, 5012.25),
    ],
)
def test_plain_sentences(body: str, ticker: str, action: Action, contracts: float | None, price: float | None) -> None:
    alert = parse_alert(body, "text/plain")
    assert (alert.ticker, alert.action, alert.contracts, alert.price) == (ticker, action, contracts, price)


def test_a_sentence_carries_its_passphrase_and_options() -> None:
    raw = decode_alert_body(b"sell 2 ETHUSD at 2300.5 passphrase=hunter2 tf=15 take profit", "text/plain")
    alert = validate_alert(raw)
    assert raw.passphrase == "hunter2" and "hunter2" not in json.dumps(raw.fields)
    assert alert.timeframe == "15m" and alert.comment == "take profit"


def test_nested_placeholder_names_and_tickerid_work() -> None:
    strategy = {"order": {"action": "buy", "contracts": "1.5", "id": "L"}, "market_position": "long"}
    body = {"tickerid": "COINBASE:ETHUSD", "strategy": strategy, "close": "2300", "timenow": 1704110400000}
    alert = parse_alert(json.dumps(body))
    assert (alert.exchange, alert.ticker, alert.action, alert.contracts, alert.order_id) == (
        "COINBASE", "ETHUSD", Action.BUY, 1.5, "L")
    assert alert.price == 2300.0 and alert.bar_time == datetime(2024, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{not json", b"[1, 2]", b'"just a string"', b"hello world", b"\xff\xfe\x00",
     b"[" * 50_000 + b"]" * 50_000, b"BUY", b'{"ticker": 1e99999'],
)
def test_malformed_bodies_are_format_errors(body: bytes) -> None:
    with pytest.raises(AlertFormatError):
        decode_alert_body(body, "application/json" if body.startswith(b"{") else "text/plain")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"ticker": "BTCUSDT", "action": "moon"}, "Unknown action"),
        ({"ticker": "BTCUSDT"}, "no action"),
        ({"action": "buy"}, "no ticker"),
        ({"ticker": "BTC USDT", "action": "buy"}, "not a symbol"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": -1}, "positive"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": 0}, "positive"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": "NaN"}, "finite"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": "Infinity"}, "finite"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": "abc"}, "not a number"),
        ({"ticker": "BTCUSDT", "action": "buy", "contracts": 1e15}, "absurdly large"),
        ({"ticker": "BTCUSDT", "action": "buy", "price": True}, "must be a number"),
        ({"ticker": "BTCUSDT", "action": "buy", "time": "yesterday"}, "not a time"),
        ({"ticker": "BTCUSDT", "action": "buy", "market_position": "sideways"}, "market_position"),
        ({"ticker": "{{ticker}}", "action": "buy"}, "placeholder"),
        ({"ticker": "BTCUSDT", "action": "buy", "comment": "x" * 2000}, "at most"),
    ],
)
def test_invalid_fields_say_what_is_wrong(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(AlertFieldError, match=needle):
        parse_alert(json.dumps(fields))


def test_dedupe_key_is_stable_for_the_same_alert_and_differs_otherwise() -> None:
    moment = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    a = parse_alert(FILLED_TEMPLATE)
    reordered = parse_alert(json.dumps(dict(reversed(list(json.loads(FILLED_TEMPLATE).items())))))
    assert dedupe_key(a, moment) == dedupe_key(reordered, moment)
    # With a bar time the arrival moment does not matter: a resend hours later is still the same alert.
    assert dedupe_key(a, moment) == dedupe_key(a, moment.replace(hour=15))
    other_order = parse_alert(FILLED_TEMPLATE.replace("Short Entry", "Short Add"))
    other_bar = parse_alert(FILLED_TEMPLATE.replace("12:00:00Z", "13:00:00Z"))
    assert len({dedupe_key(x, moment) for x in (a, other_order, other_bar)}) == 3
    # Without a bar time, the minute of arrival keys it: same minute duplicate, next minute a new signal.
    sentence = parse_alert("BUY BTCUSDT @ 43000")
    assert dedupe_key(sentence, moment) == dedupe_key(sentence, moment.replace(second=59))
    assert dedupe_key(sentence, moment) != dedupe_key(sentence, moment.replace(minute=1))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(body=st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                 max_leaves=20).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"ticker": st.text(max_size=12), "action": st.text(max_size=8)},
                          optional={"price": st.floats() | st.text(max_size=8), "time": st.text(max_size=25),
                                    "contracts": st.integers() | st.floats(), "interval": st.text(max_size=4)})
    .map(lambda value: json.dumps(value).encode()),
))
def test_any_body_is_an_alert_or_a_clear_refusal(body: bytes) -> None:
    try:
        alert = parse_alert(body)
    except (AlertFormatError, AlertFieldError) as exc:
        assert str(exc)  # a reason the sender can act on, never another exception
    else:
        assert alert.ticker and alert.action in Action
        assert alert.price is None or 0 < alert.price <= 1e12
