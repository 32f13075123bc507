"""Plotly figure builders. No streamlit here: pages render what these return.

    build_price_chart(ohlcv, overlays, show_levels=True) -> PriceChart (candles + volume + overlays + levels)
"""

from pinelab_core.viz.charts import DEFAULT_MAX_CANDLES, PriceChart, build_price_chart

__all__ = ["DEFAULT_MAX_CANDLES", "PriceChart", "build_price_chart"]
