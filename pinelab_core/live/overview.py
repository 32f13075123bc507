"""What the Paper Trading page shows at a glance: the scheduler, the watched markets, every account's state."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pinelab_core.live.accounts import list_accounts
from pinelab_core.live.db import table_of, to_timestamp
from pinelab_core.live.lock import LeaseInfo, lease_info
from pinelab_core.live.scheduler import list_watched, step_log
from pinelab_core.store.tables import PaperEquityRow, PaperFillRow

__all__ = ["LiveOverview", "live_overview"]


@dataclass(frozen=True)
class LiveOverview:
    scheduler: LeaseInfo | None  # None: not running
    watched: pd.DataFrame  # source, symbol, timeframe, enabled, last bar
    accounts: pd.DataFrame  # one row per account: state, market, equity, return, fills, kill switch
    steps: pd.DataFrame  # the newest scheduler steps


def live_overview(engine: Engine, *, steps: int = 50) -> LiveOverview:
    """The scheduler's lock holder, watched markets, accounts with their last mark, and the newest steps."""
    marks, fills = table_of(PaperEquityRow), table_of(PaperFillRow)
    with engine.connect() as connection:
        last = connection.execute(select(marks.c.account_id, func.max(marks.c.bar_time))
                                  .group_by(marks.c.account_id)).all()
        equity = {account_id: connection.execute(select(marks.c.equity, marks.c.units).where(
            marks.c.account_id == account_id, marks.c.bar_time == when)).first() for account_id, when in last}
        per_account = select(fills.c.account_id, func.count()).group_by(fills.c.account_id)
        counts: dict[int, int] = {int(k): int(v) for k, v in connection.execute(per_account).all()}
    last_bar = dict(last)
    rows = []
    for account in list_accounts(engine):
        mark = equity.get(account.id)
        rows.append({"name": account.name, "status": account.status, "strategy": account.strategy,
                     "market": f"{account.symbol} {account.timeframe} ({account.data_source})",
                     "equity": float(mark[0]) if mark else account.init_cash,
                     "return": float(mark[0]) / account.init_cash - 1.0 if mark else 0.0,
                     "units": float(mark[1]) if mark else 0.0, "fills": int(counts.get(account.id, 0)),
                     "last_bar": to_timestamp(last_bar[account.id]) if account.id in last_bar else None,
                     "kill_switch": account.kill_reason or ("armed" if account.risk.max_drawdown or
                                                            account.risk.max_daily_loss else "no limits")})
    watched = pd.DataFrame([{"source": m.data_source, "symbol": m.symbol, "timeframe": m.timeframe,
                             "enabled": m.enabled, "last_bar": m.last_bar_time} for m in list_watched(engine)],
                           columns=["source", "symbol", "timeframe", "enabled", "last_bar"])
    holder = lease_info(engine)
    return LiveOverview(holder if holder is not None and holder.alive else None, watched,
                        pd.DataFrame(rows, columns=["name", "status", "strategy", "market", "equity", "return",
                                                    "units", "fills", "last_bar", "kill_switch"]),
                        step_log(engine, limit=steps))
