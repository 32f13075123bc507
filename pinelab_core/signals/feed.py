"""The live feed: received TradingView alerts and tracked signals of every source, newest first."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.signals.alerts import list_alerts
from pinelab_core.store.tables import AggregatedSignalRow, SignalOutcomeRow

__all__ = ["FEED_COLUMNS", "filter_feed", "latest_consensus", "signal_feed"]

FEED_COLUMNS = ["time", "symbol", "source", "action", "strength", "price", "status", "realised_return", "data"]
_ACTIONS = {1: "BUY", -1: "SELL", 0: "FLAT"}


def signal_feed(engine: Engine, limit: int = 300) -> pd.DataFrame:
    """Alerts as they arrived and every source's tracked calls, one frame, newest first."""
    alerts = list_alerts(engine, limit=limit)
    from_alerts = pd.DataFrame({
        "time": pd.to_datetime(alerts["received_at"], utc=True), "symbol": alerts["ticker"], "source": "tradingview",
        "action": alerts["action"].where(alerts["market_position"] != "flat", "FLAT"), "strength": 1.0,
        "price": alerts["price"], "status": "alert " + alerts["status"].astype(str), "realised_return": float("nan"),
        "data": "webhook",
    }, columns=FEED_COLUMNS)
    with Session(engine) as session:
        rows = session.exec(select(SignalOutcomeRow).where(SignalOutcomeRow.source != "tradingview")
                            .order_by(col(SignalOutcomeRow.time).desc()).limit(limit)).all()
    from_sources = pd.DataFrame([{
        "time": r.time, "symbol": r.symbol, "source": r.source, "action": _ACTIONS.get(r.direction, "FLAT"),
        "strength": r.strength, "price": r.entry_price, "status": "open" if r.resolved_at is None else
        ("hit" if r.hit else "miss"), "realised_return": r.realised_return, "data": r.data_source,
    } for r in rows], columns=FEED_COLUMNS)
    from_sources["time"] = pd.to_datetime(from_sources["time"], utc=True)
    parts = [p for p in (from_alerts, from_sources) if not p.empty]
    if not parts:
        return pd.DataFrame(columns=FEED_COLUMNS)
    feed = pd.concat(parts, ignore_index=True)
    return feed.sort_values("time", ascending=False, kind="stable").head(limit).reset_index(drop=True)


def filter_feed(feed: pd.DataFrame, *, symbols: list[str] | None = None, sources: list[str] | None = None,
                actions: list[str] | None = None) -> pd.DataFrame:
    """Keep the rows matching every given filter (None or empty means no filter)."""
    mask = pd.Series(True, index=feed.index)
    for column, chosen in (("symbol", symbols), ("source", sources), ("action", actions)):
        if chosen:
            mask &= feed[column].isin(chosen)
    return feed[mask]


def latest_consensus(engine: Engine) -> pd.DataFrame:
    """The newest stored consensus of every market (symbol, timeframe) a desk round has run on."""
    with Session(engine) as session:
        rows = session.exec(select(AggregatedSignalRow).order_by(col(AggregatedSignalRow.time).desc())).all()
    records = [{"data": r.data_source, "symbol": r.symbol, "timeframe": r.timeframe, "time": r.time,
                "action": r.action, "score": r.score, "confidence": r.confidence, "position_size": r.position_size}
               for r in rows]
    frame = pd.DataFrame(records, columns=["data", "symbol", "timeframe", "time", "action", "score", "confidence",
                                           "position_size"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.drop_duplicates(["data", "symbol", "timeframe"]).reset_index(drop=True)
