"""TradingView alerts: decode what TradingView really sends, validate it, and key it for dedupe.

TradingView posts the alert message verbatim: JSON when the message is JSON (`application/json`),
anything else as `text/plain`. So a body is read in two steps. `decode_alert_body` turns bytes into
raw fields (a malformed body is an `AlertFormatError`, HTTP 400) and pulls out the passphrase;
`validate_alert` turns raw fields into a `TradingViewAlert` (a bad field is an `AlertFieldError`,
HTTP 422). The sidecar checks the passphrase between the two, so an unauthenticated sender learns
nothing about which fields PineLab accepts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pinelab_core.errors import PinelabError
from pinelab_core.types import Action

__all__ = [
    "MAX_ALERT_BYTES",
    "AlertFieldError",
    "AlertFormatError",
    "RawAlert",
    "TradingViewAlert",
    "alert_template",
    "decode_alert_body",
    "dedupe_key",
    "interval_timeframe",
    "parse_alert",
    "scrub_secret",
    "validate_alert",
]

#: TradingView messages are short; anything larger is refused before it is parsed (HTTP 413).
MAX_ALERT_BYTES = 64 * 1024
MAX_PRICE = 1e12
MAX_CONTRACTS = 1e9
SECRET_FIELDS = frozenset({"passphrase", "secret"})

_TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/!&+-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}")
_SENTENCE = re.compile(
    r"^(?P<action>buy|sell|long|short|exit|close|flat)\s+"
    r"(?:(?P<qty>\d+(?:\.\d+)?)\s+)?"
    r"(?P<ticker>[A-Za-z0-9][A-Za-z0-9._:/!&+-]*)"
    r"(?:\s*(?:@|\bat\b)\s*(?P<price>[^\s]+))?"
    r"(?P<rest>(?:\s+.*)?)$",
    re.IGNORECASE | re.DOTALL,
)
_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z_]+)\s*[=:]\s*(?P<value>.+)$")

_ACTIONS: dict[str, tuple[Action, str]] = {
    "buy": (Action.BUY, ""), "long": (Action.BUY, "long"),
    "sell": (Action.SELL, ""), "short": (Action.SELL, "short"),
    "hold": (Action.HOLD, ""), "flat": (Action.HOLD, "flat"), "exit": (Action.HOLD, "flat"),
    "close": (Action.HOLD, "flat"),
}
_POSITIONS = {"long": 1, "short": -1, "flat": 0}
# TradingView's {{interval}}: minutes as digits, otherwise D / W / M with an optional count.
_INTERVALS = {"1": "1m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "240": "4h",
              "D": "1d", "1D": "1d", "W": "1w", "1W": "1w"}
# Every spelling a template may use for a field, in order of preference; nested objects are
# flattened to dotted keys, so raw placeholder names such as "strategy.order.action" work too.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ticker": ("ticker", "symbol", "tickerid", "syminfo.ticker"),
    "exchange": ("exchange", "syminfo.prefix"),
    "action": ("action", "side", "order_action", "strategy.order.action", "signal"),
    "price": ("price", "close", "strategy.order.price"),
    "contracts": ("contracts", "qty", "quantity", "size", "strategy.order.contracts"),
    "order_id": ("order_id", "orderid", "id", "strategy.order.id"),
    "strategy": ("strategy", "strategy_name", "strategy.name"),
    "interval": ("interval", "timeframe", "tf"),
    "market_position": ("market_position", "position", "strategy.market_position"),
    "time": ("time", "bar_time", "timenow", "timestamp"),
    "comment": ("comment", "message", "alert_message", "strategy.order.comment", "strategy.order.alert_message"),
}
_KNOWN_KEYS = frozenset(key for names in _ALIASES.values() for key in names) | SECRET_FIELDS


class AlertFormatError(PinelabError):
    """The body is not a TradingView alert at all (bad JSON, empty, unknown sentence). Fix input (HTTP 400)."""

    # The message never quotes the body; `excerpt` holds its start, which the sidecar shows only to a sender
    # who proved it knows the secret (masked), so an outsider's junk is never echoed or stored.
    def __init__(self, message: str, *, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


class AlertFieldError(PinelabError):
    """The alert parsed, but a field is invalid (unknown action, bad price, absurd size). Fix input (HTTP 422)."""


@dataclass(frozen=True)
class RawAlert:
    """A decoded, not yet validated alert: flattened fields (secret removed) and the passphrase sent."""

    fields: dict[str, Any]
    passphrase: str | None
    kind: Literal["json", "sentence"]


@dataclass(frozen=True)
class TradingViewAlert:
    """One validated TradingView alert, in the trader's terms."""

    ticker: str
    action: Action
    exchange: str = ""
    price: float | None = None
    contracts: float | None = None
    order_id: str = ""
    strategy: str = ""
    interval: str = ""
    timeframe: str = ""  # the PineLab timeframe of `interval`, "" when PineLab has no such bar size
    market_position: str = ""
    bar_time: datetime | None = None
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 flat: the strategy's position after the order when given, else the action's."""
        if self.market_position in _POSITIONS:
            return _POSITIONS[self.market_position]
        return self.action.direction


def alert_template(include_passphrase: bool = True) -> str:
    """The alert message to paste into TradingView; its placeholders are exactly what PineLab parses."""
    lines = [
        '  "ticker": "{{ticker}}"', '  "exchange": "{{exchange}}"', '  "interval": "{{interval}}"',
        '  "time": "{{time}}"', '  "action": "{{strategy.order.action}}"', '  "price": {{close}}',
        '  "contracts": {{strategy.order.contracts}}', '  "order_id": "{{strategy.order.id}}"',
        '  "market_position": "{{strategy.market_position}}"',
    ]
    if include_passphrase:
        lines.append('  "passphrase": "YOUR_PINELAB_WEBHOOK_SECRET"')
    return "{\n" + ",\n".join(lines) + "\n}"


def decode_alert_body(body: bytes, content_type: str = "") -> RawAlert:
    """Decode a webhook body: JSON (any content type) or a sentence like `sell 2 ETHUSD at 2300.5`.

    Raises:
        AlertFormatError: the body is empty, not UTF-8, broken JSON, JSON that is not an object,
            or text that is no alert sentence.
    """
    if not body.strip():
        raise AlertFormatError("Empty body. Send the JSON alert template, or a sentence like 'BUY BTCUSDT @ 43000'.")
    try:
        text = body.decode("utf-8").strip().lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise AlertFormatError(f"The body is not UTF-8 text ({exc.reason}). Send the alert as UTF-8.") from None
    if "json" in content_type.lower() or text[:1] in "{[":
        return _decode_json(text)
    return _decode_sentence(text)


def validate_alert(raw: RawAlert) -> TradingViewAlert:
    """Turn decoded fields into a `TradingViewAlert`.

    Raises:
        AlertFieldError: a field is missing or invalid; the message names it and says what to send.
    """
    lowered = {key.lower(): value for key, value in raw.fields.items()}
    values = {name: _pick(lowered, name) for name in _ALIASES}
    for name, value in values.items():
        if isinstance(value, str) and _PLACEHOLDER.search(value):
            raise AlertFieldError(
                f"Field {name!r} still holds the placeholder {value!r}: TradingView did not substitute it. "
                "Use the placeholders of the alert template (strategy placeholders need a strategy alert)."
            )
    exchange, ticker = _ticker(values["ticker"], _text(values["exchange"], "exchange"))
    action, implied_position = _action(values["action"])
    position = _text(values["market_position"], "market_position").lower() or implied_position
    if position and position not in _POSITIONS:
        raise AlertFieldError(f"Unknown market_position {position!r}. TradingView sends long, flat or short.")
    interval = _text(values["interval"], "interval")
    return TradingViewAlert(
        ticker=ticker,
        action=action,
        exchange=exchange,
        price=_number(values["price"], "price", upper=MAX_PRICE),
        contracts=_number(values["contracts"], "contracts", upper=MAX_CONTRACTS),
        order_id=_text(values["order_id"], "order_id"),
        strategy=_text(values["strategy"], "strategy"),
        interval=interval,
        timeframe=interval_timeframe(interval),
        market_position=position,
        bar_time=_time(values["time"]),
        comment=_text(values["comment"], "comment", limit=1000),
        extra={k: v for k, v in sorted(raw.fields.items()) if k not in _KNOWN_KEYS},
    )


def interval_timeframe(interval: str) -> str:
    """The PineLab timeframe of a TradingView {{interval}} ("60" -> "1h", "1D" -> "1d"); "" when there is none."""
    return _INTERVALS.get(interval.strip().upper(), "")


def parse_alert(body: bytes | str, content_type: str = "") -> TradingViewAlert:
    """Decode and validate in one go (for tools and tests; the sidecar checks the passphrase in between)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return validate_alert(decode_alert_body(data, content_type))


def dedupe_key(alert: TradingViewAlert, received_at: datetime) -> str:
    """A hash of the normalised alert, so the same alert delivered twice is stored once.

    TradingView resends nothing on its own, so a second identical delivery is a retry or a doubled
    alert: it shares ticker, action, price, size, order id and bar time. An alert without a bar time
    is keyed by the minute it arrived, so a sentence repeated the next minute is a new signal.
    """
    moment = alert.bar_time.isoformat() if alert.bar_time else received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    normalised = {
        "ticker": alert.ticker, "exchange": alert.exchange, "action": alert.action.value,
        "price": None if alert.price is None else repr(alert.price),
        "contracts": None if alert.contracts is None else repr(alert.contracts),
        "order_id": alert.order_id, "strategy": alert.strategy, "interval": alert.interval,
        "market_position": alert.market_position, "comment": alert.comment, "moment": moment,
        "extra": alert.extra,
    }
    encoded = json.dumps(normalised, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def scrub_secret(raw: RawAlert, secrets: tuple[str, ...] = ()) -> str:
    """The payload as it may be stored: fields without the passphrase, any configured secret masked."""
    text = json.dumps(raw.fields, ensure_ascii=False, default=str, separators=(",", ":"))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# --- decoding -----------------------------------------------------------------------------------


def _decode_json(text: str) -> RawAlert:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested junk inside 64 KiB
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deeply nested or out of range"
        raise AlertFormatError(
            f"The body is not valid JSON ({reason}). Check the alert message's quotes and commas."
        ) from None
    if not isinstance(data, dict):
        raise AlertFormatError(
            f"The JSON body is a {type(data).__name__}, not an object. Send one alert object {{...}}."
        )
    flat = _flatten(data)
    passphrase = _passphrase(flat)
    return RawAlert({k: v for k, v in flat.items() if k.lower() not in SECRET_FIELDS}, passphrase, "json")


def _decode_sentence(text: str) -> RawAlert:
    match = _SENTENCE.match(" ".join(text.split()))
    if match is None:
        raise AlertFormatError(
            "The text is not an alert sentence. Send the JSON template, or a sentence such as "
            "'BUY BTCUSDT @ 43000' or 'sell 2 ETHUSD at 2300.5'.", excerpt=text[:60]
        )
    fields: dict[str, Any] = {"action": match["action"].lower(), "ticker": match["ticker"]}
    if match["qty"]:
        fields["contracts"] = match["qty"]
    if match["price"]:
        fields["price"] = match["price"].replace(",", "")
    words: list[str] = []
    for token in match["rest"].split():
        pair = _KEY_VALUE.match(token)
        if pair:
            fields[pair["key"].lower()] = pair["value"]
        else:
            words.append(token)
    if words:
        fields["comment"] = " ".join(words)
    passphrase = _passphrase(fields)
    return RawAlert({k: v for k, v in fields.items() if k not in SECRET_FIELDS}, passphrase, "sentence")


def _flatten(data: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 4:
            flat.update(_flatten(value, f"{name}.", depth + 1))
        elif isinstance(value, dict | list):
            flat[name] = json.dumps(value, default=str)[:1000]
        else:
            flat[name] = value
    return flat


def _passphrase(fields: dict[str, Any]) -> str | None:
    for key, value in fields.items():
        if key.lower() in SECRET_FIELDS and value is not None:
            return str(value)
    return None


# --- field validation ---------------------------------------------------------------------------


def _pick(lowered: dict[str, Any], name: str) -> Any:
    for alias in _ALIASES[name]:
        value = lowered.get(alias)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any, name: str, limit: int = 200) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AlertFieldError(f"Field {name!r} must be text, got {type(value).__name__}.")
    text = str(value).strip()
    if len(text) > limit:
        raise AlertFieldError(f"Field {name!r} is {len(text)} characters long; at most {limit} are accepted.")
    return text


def _ticker(value: Any, exchange: str) -> tuple[str, str]:
    text = _text(value, "ticker")
    if not text:
        raise AlertFieldError("The alert has no ticker. Add \"ticker\": \"{{ticker}}\" to the message.")
    if ":" in text:  # {{tickerid}} spells EXCHANGE:SYMBOL
        prefix, text = text.split(":", 1)
        exchange = exchange or prefix
    if not _TICKER.match(text):
        raise AlertFieldError(f"Ticker {text[:70]!r} is not a symbol (letters, digits and . _ / ! & + - only).")
    return exchange.upper(), text.upper()


def _action(value: Any) -> tuple[Action, str]:
    text = _text(value, "action").lower()
    if not text:
        raise AlertFieldError("The alert has no action. Add \"action\": \"{{strategy.order.action}}\" (buy or sell).")
    if text not in _ACTIONS:
        raise AlertFieldError(f"Unknown action {text[:40]!r}. Send buy or sell (also long, short, exit, flat, hold).")
    return _ACTIONS[text]


def _number(value: Any, name: str, *, upper: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AlertFieldError(f"Field {name!r} must be a number, got {type(value).__name__}.")
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (ValueError, OverflowError):
        raise AlertFieldError(f"Field {name!r} = {str(value)[:40]!r} is not a number.") from None
    if not math.isfinite(number) or number <= 0:
        raise AlertFieldError(f"Field {name!r} = {str(value)[:40]!r} must be a positive, finite number.")
    if number > upper:
        raise AlertFieldError(f"Field {name!r} = {number:g} is absurdly large (limit {upper:g}). Check the template.")
    return number


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\d{9,14}", value.strip())):
            seconds = float(value)
            moment = datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, tz=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise AlertFieldError(
            f"Field 'time' = {str(value)[:40]!r} is not a time. Send {{{{time}}}} (ISO, e.g. 2024-01-01T12:00:00Z)."
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not 1970 < moment.year < 2200:
        raise AlertFieldError(f"Field 'time' = {moment.isoformat()} is out of range. Send {{{{time}}}}.")
    return moment
