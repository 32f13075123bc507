"""The Features page under Streamlit's AppTest: matrix, chart, correlation, regimes, ranking, audit, export."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pinelab_core.features import feature_catalog
from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "app_pages" / "2_Features.py"


def _page(**state: object) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=180)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def test_page_shows_catalog_matrix_and_figures_on_demo_data() -> None:
    app = _page(features_window=600)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Features · DEMO-EQUITY")
    catalog = app.dataframe[0].value
    assert len(catalog) == len(feature_catalog())
    assert len(app.get("plotly_chart")) >= 3  # feature under price, heatmap, regime distribution
    assert len(app.get("download_button")) == 3


def test_catalog_search_filters_and_group_picker_narrows_the_matrix() -> None:
    app = _page(features_window=600, features_groups=["momentum", "regime"])
    app.text_input(key="features_search").set_value("stochastic").run()
    assert not app.exception
    names = set(app.dataframe[0].value["name"])
    assert names and all("stoch" in name for name in names)
    assert app.dataframe[1].value.shape[1] == len(feature_catalog(["momentum", "regime"]))


def test_ranking_and_audit_run_on_request() -> None:
    app = _page(features_window=600, features_groups=["momentum", "regime"])
    app.button(key="features_rank_go").click().run()
    app.button(key="features_audit_go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("features passed" in s.value for s in app.success)
    app.selectbox(key="features_rank_label").set_value("triple_barrier").run()
    app.selectbox(key="features_rank_method").set_value("lightgbm").run()
    assert not app.exception and not app.error
    titles = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert len(titles) == 5 and any("lightgbm vs triple barrier" in spec for spec in titles)
    assert not app.error


def test_a_short_uploaded_file_explains_instead_of_crashing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [f"2024-01-{day:02d},{100 + day},{102 + day},{99 + day},{101 + day},{1000 + day}" for day in range(1, 29)]
    path = tmp_path / "short.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n" + "\n".join(rows) + "\n")
    app = _page(market_source="file", market_file=str(path))
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Features · short")
    app.button(key="features_rank_go").click().run()
    app.button(key="features_audit_go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.error  # too little history for correlations and ranking: said, not crashed


def test_opt_in_groups_can_be_picked_and_fill_the_matrix() -> None:
    app = _page(features_window=600, features_groups=["momentum", "hmm"])
    assert not app.exception, [e.value for e in app.exception]
    matrix = app.dataframe[1].value
    assert matrix.shape[1] == len(feature_catalog(["momentum", "hmm"]))
    regime_columns = [c for c in matrix.columns if c.startswith("hmm_p_")]
    assert regime_columns and matrix[regime_columns].notna().all(axis=None)  # the window lies past the warm-up
