"""SHAP figures: the waterfall lands on the output, the global views rank and colour what they should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.explain.attribution import Attribution
from pinelab_core.models.ensemble import Forecast, Prediction
from pinelab_core.types import Action
from pinelab_core.viz.explain import beeswarm, dependence_plot, importance_bar, waterfall
from pinelab_core.viz.predictions import confidence_gauge, forecast_fan, member_breakdown, watchlist_frame


def _attribution() -> Attribution:
    rng = np.random.default_rng(0)
    n = 40
    values = rng.normal(0, [0.5, 0.1, 0.02], (n, 3))
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="time")
    return Attribution(("big", "mid", "small"), index, np.full(n, 2), np.zeros(n), values, values.sum(axis=1),
                       rng.normal(size=(n, 3)), "test")


def test_waterfall_sums_the_shown_and_the_rest_to_the_output() -> None:
    contributions = {"a": 0.3, "b": -0.2, "c": 0.05, "d": 0.01}
    figure = waterfall(0.1, contributions, 0.26, top=2, feature_values={"a": 1.5})
    trace = figure.data[0]
    assert list(trace.y) == ["base value", "a = 1.5", "b", "2 other features", "output"]
    assert sum(trace.x[:-1]) == pytest.approx(trace.x[-1])


def test_global_views_rank_by_mean_absolute_value() -> None:
    attribution = _attribution()
    assert list(importance_bar(attribution).data[0].y) == ["big", "mid", "small"]
    swarm = beeswarm(attribution, top=2)
    assert [trace.name for trace in swarm.data] == ["big", "mid"]
    colours = np.asarray(swarm.data[0].marker.color, dtype=float)
    assert colours.min() > 0 and colours.max() == 1.0  # percentiles of the feature's values
    scatter = dependence_plot(attribution, "mid", colour_by="big").data[0]
    assert np.allclose(scatter.x, attribution.feature_values[:, 1])
    assert np.allclose(scatter.y, attribution.values[:, 1])


def test_prediction_figures_and_watchlist_table() -> None:
    bar = pd.Timestamp("2024-02-01", tz="UTC")
    forecasts = [Forecast(h, bar + pd.Timedelta(days=h), 0.01 * h, -0.02 * h, 0.03 * h, 101.0, 98.0, 103.0)
                 for h in (1, 5)]
    prediction = Prediction("X", "1d", bar, 5, Action.BUY, 0.6, {"DOWN": 0.1, "SIDEWAYS": 0.3, "UP": 0.6},
                            {"m/v1": {"DOWN": 0.2, "SIDEWAYS": 0.2, "UP": 0.6}}, {"m/v1": 1.0}, 1.0, ["m/v1"],
                            100.0, forecasts=forecasts)
    assert confidence_gauge(prediction).data[0].value == pytest.approx(60.0)
    assert list(member_breakdown(prediction).data[0].y) == ["ensemble", "m/v1 (w=1.00)"]
    ohlcv = pd.DataFrame({"close": np.linspace(90, 100, 32)},
                         index=pd.date_range(end=bar, periods=32, freq="D", tz="UTC", name="time"))
    names = [trace.name for trace in forecast_fan(ohlcv, prediction).data]
    assert "median forecast" in names and "80% interval" in names
    table = watchlist_frame({"X": prediction, "Y": DataValidationError("no data for Y")})
    assert list(table["signal"]) == ["BUY", "—"]
    assert table.loc[1, "error"] == "no data for Y"
    assert table.loc[0, "+5 bars"].startswith("+5.00%")
