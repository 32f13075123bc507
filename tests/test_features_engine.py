"""The feature matrix: size, catalog agreement, TA-Lib equality of the stable names, warm-up NaNs, inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from pinelab_core.errors import DataValidationError
from pinelab_core.features import FEATURE_GROUPS, build_features, feature_catalog
from pinelab_core.features.registry import SPECS
from tests.conftest import random_walk_ohlcv

STABLE_NAMES = ("rsi_14", "macd", "macd_signal", "macd_hist", "bb_upper_20", "bb_middle_20", "bb_lower_20", "atr_14",
                "adx_14", "cci_14", "willr_14", "mfi_14", "stoch_k", "stoch_d", "obv", "sma_50", "ema_20", "roc_10")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_walk_ohlcv(1_500, seed=7)


@pytest.fixture(scope="module")
def matrix(bars: pd.DataFrame) -> pd.DataFrame:
    return build_features(bars)


def _reference(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """The stable names computed by direct TA-Lib calls with TA-Lib's default parameters."""
    o, h, low, c, v = (bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    macd, signal, hist = talib.MACD(c)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20)
    slowk, slowd = talib.STOCH(h, low, c)
    return {
        "rsi_14": talib.RSI(c), "macd": macd, "macd_signal": signal, "macd_hist": hist, "bb_upper_20": upper,
        "bb_middle_20": middle, "bb_lower_20": lower, "atr_14": talib.ATR(h, low, c), "adx_14": talib.ADX(h, low, c),
        "cci_14": talib.CCI(h, low, c), "willr_14": talib.WILLR(h, low, c), "mfi_14": talib.MFI(h, low, c, v),
        "stoch_k": slowk, "stoch_d": slowd, "obv": talib.OBV(c, v), "sma_50": talib.SMA(c, 50),
        "ema_20": talib.EMA(c, 20), "roc_10": talib.ROC(c, 10),
    }


def test_more_than_150_features_on_the_input_index(bars: pd.DataFrame, matrix: pd.DataFrame) -> None:
    assert matrix.shape == (len(bars), len(SPECS)) and matrix.shape[1] >= 150
    assert matrix.index.equals(bars.index)
    assert all(dtype == np.float64 for dtype in matrix.dtypes)


def test_catalog_lists_every_column_in_matrix_order(matrix: pd.DataFrame) -> None:
    catalog = feature_catalog()
    assert list(catalog.columns) == ["name", "group", "parameters", "lookback", "history", "start_dependent",
                                     "scale_free", "description"]
    assert list(catalog["name"]) == list(matrix.columns)
    assert catalog["name"].is_unique and catalog["description"].str.len().min() > 10
    assert set(catalog["group"]) == set(FEATURE_GROUPS)
    subset = feature_catalog(["volume", "regime"])
    assert list(subset["name"]) == list(build_features(random_walk_ohlcv(400), groups=["volume", "regime"]).columns)


@pytest.mark.parametrize("name", STABLE_NAMES)
def test_stable_names_equal_direct_talib_calls(bars: pd.DataFrame, matrix: pd.DataFrame, name: str) -> None:
    np.testing.assert_array_equal(matrix[name].to_numpy(), _reference(bars)[name])


def test_derived_columns_equal_the_talib_functions_they_replace(bars: pd.DataFrame, matrix: pd.DataFrame) -> None:
    """ADXR, the Aroon oscillator and StochRSI are rebuilt from outputs already computed: bit for bit TA-Lib's;
    CMO from RSI to rounding."""
    h, low, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    np.testing.assert_array_equal(matrix["adxr_14"], talib.ADXR(h, low, c, 14))
    np.testing.assert_array_equal(matrix["aroon_osc_25"], talib.AROONOSC(h, low, 25))
    k, d = talib.STOCHRSI(c, 14, 5, 3, 0)
    np.testing.assert_array_equal(matrix["stochrsi_k"], k)
    np.testing.assert_array_equal(matrix["stochrsi_d"], d)
    np.testing.assert_allclose(matrix["cmo_14"], talib.CMO(c, 14), rtol=0, atol=1e-12)


def test_stable_names_equal_talib_on_simulated_market_data() -> None:
    from pinelab_core.data import load_ohlcv

    bars = load_ohlcv("DEMO-EQUITY", "1d", source="demo")
    matrix = build_features(bars, groups=["trend", "momentum", "volatility", "volume"])
    reference = _reference(bars)
    for name in STABLE_NAMES:
        np.testing.assert_array_equal(matrix[name].to_numpy(), reference[name], err_msg=name)


def test_warm_up_rows_are_nan_exactly_as_long_as_the_catalog_says(matrix: pd.DataFrame) -> None:
    for spec in SPECS:
        values = matrix[spec.name].to_numpy()
        finite = np.flatnonzero(np.isfinite(values))
        assert len(finite), f"{spec.name} is never computed"
        assert np.isnan(values[: spec.lookback]).all(), f"{spec.name}: value inside its warm-up"
        assert finite[0] == spec.lookback, f"{spec.name}: first value at {finite[0]}, lookback {spec.lookback}"


def test_no_infinities_and_scale_free_features_do_not_depend_on_the_price_level(bars: pd.DataFrame) -> None:
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 250.0
    base, big = build_features(bars), build_features(scaled)
    assert not np.isinf(base.to_numpy()).any()
    for name in ("dist_sma_50", "natr_14", "bb_pctb_20", "rsi_14", "macd_hist_atr", "rv_20", "linreg_slope_14",
                 "dist_resistance", "vwap_dist_20", "fft_period_64", "wavelet_energy_d1", "yang_zhang_20"):
        np.testing.assert_allclose(big[name], base[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_groups_select_columns_and_float32_halves_the_memory(bars: pd.DataFrame, matrix: pd.DataFrame) -> None:
    trend = build_features(bars, groups="trend, momentum", dtype="float32")
    assert set(trend.columns) == set(feature_catalog(["trend", "momentum"])["name"])
    assert all(dtype == np.float32 for dtype in trend.dtypes)
    np.testing.assert_allclose(trend["rsi_14"], matrix["rsi_14"], rtol=1e-6)


def test_dict_and_panel_inputs_give_the_same_per_symbol_matrices(bars: pd.DataFrame) -> None:
    other = random_walk_ohlcv(600, seed=3)
    single = {"AAA": build_features(bars, groups="trend"), "BBB": build_features(other, groups="trend")}
    as_dict = build_features({"AAA": bars, "BBB": other}, groups="trend")
    panel = pd.concat({"AAA": bars, "BBB": other}, names=["symbol", "time"])
    as_panel = build_features(panel, groups="trend")
    assert as_panel.index.equals(panel.index)
    for symbol, expected in single.items():
        pd.testing.assert_frame_equal(as_dict[symbol], expected)
        pd.testing.assert_frame_equal(as_panel.xs(symbol, level="symbol"), expected, check_freq=False)


def test_time_features_encode_the_clock_and_sessions_only_intraday() -> None:
    hourly = build_features(random_walk_ohlcv(48, freq="1h"), groups="time")
    daily = build_features(random_walk_ohlcv(30, freq="1D"), groups="time")
    at_15h = hourly.index.hour == 15
    assert (hourly.loc[at_15h, "session_us"] == 1).all() and (hourly.loc[at_15h, "session_asia"] == 0).all()
    assert np.isnan(hourly["session_us"].iloc[0])
    assert (daily["session_us"].iloc[1:] == 0).all()
    np.testing.assert_allclose(hourly["hour_sin"] ** 2 + hourly["hour_cos"] ** 2, 1.0)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_daily_bars_are_outside_every_session_whatever_the_index_unit(unit: str) -> None:
    """A daily bar stamped 00:00 UTC is not an Asia-session bar: the gap to the previous bar is a day, read in
    the index's own unit (pandas 3 keeps microseconds; reading them as nanoseconds made a day look like 86 s)."""
    daily = random_walk_ohlcv(30, freq="1D")
    daily.index = daily.index.as_unit(unit)
    sessions = build_features(daily, groups="time")[["session_asia", "session_europe", "session_us"]]
    assert (sessions.iloc[1:] == 0).all().all()
    hourly = random_walk_ohlcv(48, freq="1h")
    hourly.index = hourly.index.as_unit(unit)
    flags = build_features(hourly, groups="time")
    assert (flags.loc[flags.index.hour == 3, "session_asia"] == 1).all()


def test_calendar_encodings_equal_pandas_fields_across_centuries() -> None:
    """The integer calendar (minute, weekday, day, month from epoch nanoseconds) agrees with pandas' fields,
    leap days and dates before 1970 included."""
    rng = np.random.default_rng(4)
    stamps = np.sort(rng.integers(pd.Timestamp("1900-01-01").value, pd.Timestamp("2100-12-31").value, 5_000))
    index = pd.DatetimeIndex(stamps, tz="UTC", name="time").append(
        pd.DatetimeIndex(["2000-02-29 23:59", "2100-03-01", "2024-12-31 12:30"], tz="UTC"))
    index = index.sort_values().unique()
    bars = random_walk_ohlcv(len(index))
    bars.index = index
    features = build_features(bars, groups="time")
    hour = index.hour + index.minute / 60.0
    expected = {
        "hour_sin": np.sin(2 * np.pi * hour / 24.0), "weekday_cos": np.cos(2 * np.pi * index.day_of_week / 7.0),
        "day_of_month_sin": np.sin(2 * np.pi * (index.day - 1) / index.days_in_month),
        "month_cos": np.cos(2 * np.pi * (index.month - 1) / 12.0),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(features[name], values, rtol=0, atol=1e-12, err_msg=name)


def test_spectral_finds_a_planted_cycle() -> None:
    bars = random_walk_ohlcv(800, seed=1)
    cycle = 0.05 * np.sin(2 * np.pi * np.arange(len(bars)) / 16.0)
    planted = bars.copy()
    planted[["open", "high", "low", "close"]] = planted[["open", "high", "low", "close"]].mul(np.exp(cycle), axis=0)
    spectral = build_features(planted, groups="spectral").iloc[100:]
    assert (spectral["fft_period_64"] == 16).mean() > 0.9
    assert spectral["fft_power_64"].median() > 0.5
    shares = spectral[[c for c in spectral.columns if c.startswith("wavelet_energy_")]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)


def test_structure_uses_only_confirmed_swings() -> None:
    bars = random_walk_ohlcv(300, seed=2)
    features = build_features(bars, groups="structure")
    assert (features["bars_since_swing_high"].dropna() >= 5).all()  # a swing is known 5 bars after its bar
    assert (features["dist_resistance"].dropna() > 0).all() and (features["dist_support"].dropna() > 0).all()
    assert (features["dist_high_20"].dropna() <= 0).all() and (features["dist_low_20"].dropna() >= 0).all()


def test_short_frames_give_nan_warm_up_not_errors() -> None:
    tiny = build_features(random_walk_ohlcv(3))
    assert tiny.shape == (3, len(SPECS)) and tiny["sma_200"].isna().all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pd.DataFrame({"close": [1.0, 2.0]}), "lacks columns"),
        (random_walk_ohlcv(20).reset_index(drop=True), "DatetimeIndex"),
        (pd.concat([random_walk_ohlcv(5), random_walk_ohlcv(5)]), "duplicate"),
        ("not a frame", "DataFrame"),
    ],
)
def test_bad_input_raises_a_clear_validation_error(bad: object, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        build_features(bad)  # type: ignore[arg-type]


def test_unknown_group_and_dtype_say_what_to_use(bars: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="did you mean 'momentum'"):
        build_features(bars, groups=["momentun"])
    with pytest.raises(DataValidationError, match="float32"):
        build_features(bars, dtype="int8")  # type: ignore[arg-type]


def test_naive_and_unsorted_index_are_fixed_with_a_warning() -> None:
    bars = random_walk_ohlcv(100)
    naive = bars.tz_localize(None).iloc[::-1]
    with pytest.warns(UserWarning):
        fixed = build_features(naive, groups="trend")
    pd.testing.assert_frame_equal(fixed, build_features(bars, groups="trend"), check_freq=False)


def test_rolling_spectrum_equals_numpy_fft_of_each_detrended_window() -> None:
    from pinelab_core.features import spectral
    from pinelab_core.features.spec import Bars

    bars = random_walk_ohlcv(5_000, seed=9)
    power = spectral.rolling_spectrum(Bars(bars))
    log_close = np.log(bars["close"].to_numpy())
    steps = np.arange(spectral.FFT_WINDOW)
    assert np.isnan(power[: spectral.FFT_WINDOW - 1]).all()
    for row in (63, 64, 1_000, 4_096, 4_999):  # including rows around an exact re-sum of the sliding window
        window = log_close[row - spectral.FFT_WINDOW + 1 : row + 1]
        detrended = window - np.polyval(np.polyfit(steps, window, 1), steps)
        expected = np.abs(np.fft.rfft(detrended)[spectral.FFT_BINS]) ** 2
        np.testing.assert_allclose(power[row], expected, rtol=1e-7, atol=1e-14, err_msg=f"row {row}")


def test_volatility_percentile_equals_pandas_rolling_rank() -> None:
    from pinelab_core.features.spec import Bars
    from pinelab_core.features.volatility import realised_volatility

    bars = random_walk_ohlcv(1_000, seed=5)
    rv = realised_volatility(Bars(bars), 20)
    rv[600:610] = rv[590]  # ties rank by their average position, as in pandas
    expected = pd.Series(rv).rolling(252, min_periods=252).rank(pct=True).to_numpy()
    from pinelab_core.features.regime import _trailing_percentile_rank

    np.testing.assert_allclose(_trailing_percentile_rank(rv, 252), expected, rtol=1e-12)


def test_a_flat_market_with_no_volume_gives_defined_neutral_values() -> None:
    """Nothing moves and nothing trades: ratios read their neutral value (mid-range, no flow, as usual)."""
    import warnings

    index = pd.date_range("2024-01-01", periods=400, freq="1h", tz="UTC", name="time")
    flat = pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 0.0}, index=index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division or log warnings leak out
        matrix = build_features(flat)
    catalog = feature_catalog().set_index("name")
    for name in matrix.columns:
        assert np.isfinite(matrix[name].iloc[catalog.loc[name, "lookback"]:]).all(), name
    last = matrix.iloc[-1]
    expected = {"bb_pctb_20": 0.5, "close_location": 0.5, "donchian_pos_20": 0.5, "rv_20": 0.0, "zscore_close_20": 0.0,
                "volume_ratio_20": 1.0, "cmf_20": 0.0, "vwap_dist_20": 0.0, "logret_skew_20": 0.0,
                "fft_period_64": 0.0, "fft_entropy_64": 1.0, "wavelet_energy_d1": 0.25, "efficiency_ratio_20": 0.0,
                "dist_swing_high": 0.0, "bars_since_swing_high": 250.0, "above_all_resistance": 1.0}
    assert last[list(expected)].to_dict() == pytest.approx(expected)
