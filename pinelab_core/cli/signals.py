"""`pinelab webhook`, `pinelab alerts` and `pinelab signals`: the sidecar, the alert log, the consensus."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    webhook = subparsers.add_parser(
        "webhook", help="run the TradingView webhook sidecar",
        description="Serve POST /webhook/tradingview and GET /healthz with uvicorn, and the read-only insights API "
                    "under /api/v1 (bearer tokens: `pinelab api-token create`; docs at /docs; off with "
                    "PINELAB_API_ENABLED=false; see docs/api.md). Requires PINELAB_WEBHOOK_SECRET (the alert's "
                    "passphrase) or PINELAB_WEBHOOK_HMAC_SECRET (signed senders).",
    )
    webhook.add_argument("--host", default=None, help="address to bind (default PINELAB_WEBHOOK_HOST, 127.0.0.1)")
    webhook.add_argument("--port", type=int, default=None, help="port (default PINELAB_WEBHOOK_PORT, 8787)")
    webhook.add_argument("--insecure", action="store_true",
                         help="accept alerts without any secret (loopback only, for local experiments; warns)")
    webhook.set_defaults(handler=_webhook)

    alerts = subparsers.add_parser("alerts", help="list received TradingView alerts, newest first")
    alerts.add_argument("--limit", type=int, default=20, help="how many alerts (default 20)")
    alerts.add_argument("--ticker", default=None, help="only this ticker, e.g. BTCUSDT")
    add_json_option(alerts)
    alerts.set_defaults(handler=_alerts)

    signals = subparsers.add_parser("signals", help="the consensus signal of a market, with each source's part")
    add_data_options(signals)
    signals.add_argument("--horizon", type=int, default=5, help="bars each signal is held before it is judged")
    signals.add_argument("--sources", default=None, help="comma-separated sources (default: all registered)")
    signals.set_defaults(handler=_signals)


def _webhook(args: argparse.Namespace) -> int:
    from pinelab_core.webhook import check_binding, serve

    settings = Settings.from_env()
    if args.insecure:
        settings = settings.with_overrides(webhook_insecure=True)
    host, port = args.host or settings.webhook_host, args.port or settings.webhook_port
    check_binding(settings, host, port)  # refuse before anything else starts
    if settings.webhook_insecure and not (settings.webhook_secret or settings.webhook_hmac_secret):
        print("WARNING: --insecure: no secret is configured, so every alert that reaches this port is accepted. "
              "Never put a tunnel or proxy in front of it.", file=sys.stderr)
    print(f"PineLab webhook listening on http://{host}:{port}/webhook/tradingview (Ctrl+C to stop)")
    if settings.api_enabled:
        print(f"Insights API on http://{host}:{port}/api/v1 (docs: /docs; tokens: pinelab api-token create)")
    serve(settings, host, port)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from pinelab_core.signals.alerts import list_alerts
    from pinelab_core.store import get_engine

    if args.limit < 1:
        raise DataValidationError(f"--limit {args.limit} must be at least 1.")
    frame = list_alerts(get_engine(Settings.from_env()), limit=args.limit, ticker=args.ticker)
    if frame.empty:
        text = "No alerts received yet. Start `pinelab webhook` and point a TradingView alert at it."
    else:
        shown = frame.drop(columns=["enrichment"]).astype(object)
        for column in ("received_at", "bar_time"):
            shown[column] = frame[column].map(lambda t: "" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M:%S}")
        text = shown.where(shown.notna(), "").to_string(index=False)
    emit(args, frame, text)
    return 0


def _signals(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.signals.desk import run_signal_desk
    from pinelab_core.store import get_engine

    settings = settings_from_args(args)
    if args.horizon < 1:
        raise DataValidationError(f"--horizon {args.horizon} must be at least 1 bar.")
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, source=args.source, settings=settings)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
    desk = run_signal_desk(ohlcv, args.symbol, args.timeframe, engine=get_engine(settings), settings=settings,
                           sources=sources, horizon=args.horizon)
    agg = desk.aggregate
    lines = [f"{agg.symbol} {agg.timeframe} at {agg.time:%Y-%m-%d %H:%M} UTC: {agg.action.value} "
             f"score {agg.score:+.2f}, confidence {agg.confidence:.2f}, position {agg.position_size:+.1%} "
             f"(volatility {agg.volatility:.1%}/yr)", "", desk.performance.to_string(index=False)]
    emit(args, {"aggregate": agg, "performance": desk.performance}, "\n".join(lines))
    return 0
