"""The dashboard in a real browser: every page keeps its app shell on every load path, the starter flow and a
Training job run end to end, and no figure draws its legend over its title or plot at 1,000-1,900 px.

AppTest (tests/test_*pages.py) runs page scripts without a browser; what only a browser shows (the
navigation, the sidebar after a reload, layout width, a figure's drawn legend) is checked here.
Set README_SCREENSHOTS=<folder> to also save a screenshot of every page (the README's are made so).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinelab_core.ui.navigation import page_specs
from tests.browser_helpers import (
    CHROMIUM_ARGS,
    FIGURE_OVERLAPS_JS,
    FIRST_RUN_SECONDS,
    REPO_ROOT,
    Dashboard,
    assert_page_ok,
    chromium_path,
    screenshot_on_failure,
    serve_dashboard,
    settle,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGES = page_specs(REPO_ROOT / "app_pages")
TITLES = [spec.title for spec in PAGES]
JOB_SECONDS = 300  # a starter or LightGBM job on DEMO-EQUITY 1d takes about a minute on 2 busy cores
def _path(spec) -> str:  # type: ignore[no-untyped-def]
    """The page's URL path: the default page lives at the root (Streamlit ignores its url_path)."""
    return "" if spec.default else spec.url_path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, browser) -> Iterator[Dashboard]:  # type: ignore[no-untyped-def]
    with serve_dashboard(tmp_path_factory.mktemp("dashboard")) as served:
        page = _page(browser)
        page.goto(served.url)  # the server's first script run imports the ML stack once
        assert_page_ok(page, TITLES, "dashboard-first-run", timeout=FIRST_RUN_SECONDS)
        page.context.close()
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _page(browser, width: int = 1400, height: int = 900):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(20_000)
    return context.new_page()


def test_a_first_request_for_a_legacy_page_url_keeps_the_app_shell(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """The reproduced bug: with a `pages/` folder, a fresh server's first request for /Predictions ran that page
    without app.py, and every page of every session lost the sidebar and the wide layout from then on."""
    with serve_dashboard(tmp_path) as fresh:
        page = _page(browser)
        page.goto(f"{fresh.url}/Predictions")
        assert_page_ok(page, TITLES, "legacy-url-first-request", timeout=FIRST_RUN_SECONDS)
        page.goto(f"{fresh.url}/features")
        assert_page_ok(page, TITLES, "legacy-url-then-features")
        page.context.close()


def test_every_page_keeps_its_shell_on_first_load_click_and_reload(dashboard: Dashboard, browser) -> None:  # type: ignore[no-untyped-def]
    timings = {}
    for spec in PAGES:
        page = _page(browser)
        page.goto(f"{dashboard.url}/{_path(spec)}")  # a direct URL in a new tab: the first load
        timings[spec.title] = assert_page_ok(page, TITLES, f"first-load-{spec.url_path}")
        page.reload()
        assert_page_ok(page, TITLES, f"reload-{spec.url_path}")
        page.context.close()
    page = _page(browser)
    page.goto(dashboard.url)
    assert_page_ok(page, TITLES, "home")
    for spec in [*PAGES[1:], PAGES[0]]:  # every page by clicking its navigation link, ending where we began
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=spec.title).first.click()
        page.wait_for_timeout(300)
        assert_page_ok(page, TITLES, f"click-{spec.url_path}")
        assert page.url.rstrip("/").endswith(_path(spec)), page.url
    page.context.close()
    assert max(timings.values()) < 10.0, timings


def test_starter_flow_from_predictions_to_an_explanation(dashboard: Dashboard, browser) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser)
    page.goto(f"{dashboard.url}/predictions")
    assert_page_ok(page, TITLES, "starter-before")
    page.get_by_role("button", name="Train starter models").click()
    page.get_by_text("queued", exact=False).wait_for()
    page.wait_for_timeout(3_000)
    page.reload()  # a reload while the job runs in its own process
    assert_page_ok(page, TITLES, "starter-reload-during-job")
    for path in ("explain", "registry", "training"):
        page.goto(f"{dashboard.url}/{path}")
        assert_page_ok(page, TITLES, f"starter-{path}-during-job")
    _wait_for(page, f"{dashboard.url}/predictions", "· bar ", "starter-prediction")
    assert page.locator(".js-plotly-plot").count() >= 3  # gauge, members, forecast fan
    page.goto(f"{dashboard.url}/explain")
    assert_page_ok(page, TITLES, "starter-explain")
    page.get_by_text("with calibrated probability", exact=False).first.wait_for()
    assert page.locator(".js-plotly-plot").count() >= 1  # the waterfall
    page.context.close()


def test_training_page_launches_and_finishes_a_job(dashboard: Dashboard, browser) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser)
    page.goto(f"{dashboard.url}/training")
    assert_page_ok(page, TITLES, "training-before")
    page.get_by_role("button", name="Launch training").click()
    page.get_by_text("running", exact=False).or_(page.get_by_text("queued", exact=False)).first.wait_for()
    # A failed job shows an error box, which fails the page check; a succeeded one shows its scores.
    _wait_for(page, f"{dashboard.url}/training", "Balanced accuracy", "training-finished")
    assert page.get_by_text("vs majority", exact=False).count() >= 1
    page.context.close()


@pytest.mark.parametrize("width", [1000, 1400, 1900])
def test_no_figure_draws_its_legend_over_its_title_or_plot(dashboard: Dashboard, browser, width: int) -> None:  # type: ignore[no-untyped-def]
    _ensure_models(dashboard)
    page = _page(browser, width=width, height=1100)
    found = {}
    for spec in PAGES:
        page.goto(f"{dashboard.url}/{_path(spec)}")
        assert_page_ok(page, TITLES, f"figures-{width}-{spec.url_path}")
        _show_every_tab(page)
        problems = page.evaluate(FIGURE_OVERLAPS_JS)
        if problems:
            found[spec.title] = problems
            screenshot_on_failure(page, f"figures-{width}-{spec.url_path}")
        folder = os.environ.get("README_SCREENSHOTS")
        if folder and width == 1400:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{spec.url_path}.jpg"), type="jpeg", quality=72)
    page.context.close()
    assert not found, found


def _show_every_tab(page) -> None:  # type: ignore[no-untyped-def]
    """Plotly lays a figure out only when it is visible: open each tab once so every figure is drawn."""
    tabs = page.locator('[role="tab"]')
    for index in range(tabs.count()):
        tabs.nth(index).click()
        page.wait_for_timeout(150)


def _wait_for(page, url: str, text: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Reload `url` every few seconds until `text` shows (a background job finishing), at most JOB_SECONDS."""
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        page.goto(url)
        assert_page_ok(page, TITLES, name)
        if page.get_by_text(text, exact=False).count():
            return
        page.wait_for_timeout(4_000)
    raise AssertionError(f"{name}: {text!r} did not appear in {JOB_SECONDS} s; "
                         f"screenshot {screenshot_on_failure(page, name)}")


def _ensure_models(dashboard: Dashboard) -> None:
    """Starter models on the demo market and the shipped pattern model, so the Registry, Predictions, Explain
    and Charts figures (pattern markers, "Patterns now") are there to check."""
    if not (dashboard.models_dir / "chart-patterns").is_dir():
        subprocess.run([sys.executable, "-m", "pinelab_core", "patterns", "install"], cwd=REPO_ROOT,
                       env=dashboard.env, check=True, capture_output=True, timeout=JOB_SECONDS)
    if any(dashboard.models_dir.glob("*/v*/manifest.json")):
        return
    subprocess.run([sys.executable, "-m", "pinelab_core", "predict", "--source", "demo", "--symbol", "DEMO-EQUITY",
                    "--train-starter", "--no-forecasts"], cwd=REPO_ROOT, env=dashboard.env, check=True,
                   capture_output=True, timeout=JOB_SECONDS)


def test_settle_measures_a_real_page(dashboard: Dashboard, browser) -> None:  # type: ignore[no-untyped-def]
    """The settle helper itself: a page that renders is settled well inside the limit, and the shell check
    names what a page without the app shell lacks."""
    page = _page(browser)
    page.goto(f"{dashboard.url}/charts")
    assert settle(page) < 10.0
    page.set_content("<html><body><p>no app here</p></body></html>")
    with pytest.raises(Exception):  # noqa: B017 - playwright's TimeoutError or the settle AssertionError
        settle(page, timeout=1.0)
    page.context.close()
