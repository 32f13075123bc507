"""Real-browser helpers: a PineLab dashboard served on localhost and headless Chromium driving it.

The browser is Debian's `chromium` package (`.ci/run` installs it with apt when missing), driven by
Playwright's Python API; nothing downloads a browser. Without Chromium the browser tests are skipped,
unless PINELAB_REQUIRE_BROWSER=1 (set by `.ci/run`) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where failing tests leave their screenshots (git-ignored).
ARTIFACTS = Path(os.environ.get("PINELAB_BROWSER_ARTIFACTS", REPO_ROOT / "test-artifacts" / "browser"))
#: A new server's first script run imports the whole ML stack once (torch, LightGBM, SHAP): it may take longer.
FIRST_RUN_SECONDS = 45.0
#: Chromium without the background traffic a closed network refuses (and a sandbox root cannot use).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETTLE_SECONDS = 10.0
#: More time a page may spend behind its own spinner ("Fitting regimes…", "Looking for chart patterns…"): the
#: first fit of a model on a busy CI machine; the page is settled only once its spinners are gone.
COMPUTE_SECONDS = 60.0
#: In CI (and with PINELAB_REQUIRE_BROWSER=1) a missing Chromium fails the browser tests instead of skipping them.
REQUIRE_BROWSER = os.environ.get("PINELAB_REQUIRE_BROWSER") == "1" or bool(os.environ.get("CI"))


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure when PINELAB_REQUIRE_BROWSER=1) naming how to get it."""
    found = os.environ.get("PINELAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "browser tests need Debian's chromium: `apt-get install -y chromium` (.ci/run does this)"
    if REQUIRE_BROWSER:
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dashboard:
    """A `streamlit run app.py` process on its own data and models folders."""

    url: str
    data_dir: Path
    models_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return dashboard_env(self.data_dir, self.models_dir)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def dashboard_env(data_dir: Path, models_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINELAB_")}
    env.update(PINELAB_DATA_DIR=str(data_dir), PINELAB_MODELS_DIR=str(models_dir), PINELAB_DEFAULT_SOURCE="demo",
               PYTHONPATH=str(REPO_ROOT))
    return env


@contextlib.contextmanager
def serve_dashboard(folder: Path) -> Iterator[Dashboard]:
    """Start the dashboard exactly as the README does (`streamlit run app.py`) and wait for its health check."""
    port = _free_port()
    data_dir, models_dir = folder / "data", folder / "models"
    log = folder / "streamlit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our app
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO_ROOT, env=dashboard_env(data_dir, models_dir), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dashboard = Dashboard(f"http://127.0.0.1:{port}", data_dir, models_dir, process, log)
    try:
        _wait_healthy(dashboard)
        yield dashboard
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


def _wait_healthy(dashboard: Dashboard, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dashboard.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {dashboard.process.returncode}:\n{dashboard.log_tail()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310 - our own localhost server
                f"{dashboard.url}/_stcore/health", timeout=2) as response:
            if response.read().strip() == b"ok":
                return
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer its health check in {timeout:.0f} s:\n{dashboard.log_tail()}")


def settle(page, timeout: float = SETTLE_SECONDS) -> float:  # type: ignore[no-untyped-def]
    """Wait until the app has rendered and its script run is over; return the seconds it took.

    Settled means: the main column holds rendered elements, none of them stale (left over from the run
    before), and Streamlit's "Running..." status widget and every spinner have been gone for half a second
    (reruns that the first render triggers count as part of the load). Time behind a spinner may add up to
    `COMPUTE_SECONDS` to `timeout`.
    """
    started = time.monotonic()
    try:
        page.wait_for_function(_RENDERED_JS, timeout=timeout * 1000)
    except Exception as exc:  # playwright's TimeoutError
        raise AssertionError(f"nothing rendered within {timeout:.0f} s") from exc
    quiet_since: float | None = None
    last_busy = ""
    limit = timeout
    while True:
        now = time.monotonic()
        busy = page.evaluate(_BUSY_JS)
        if busy:
            quiet_since, last_busy = None, busy
            if busy == "computing":
                limit = timeout + COMPUTE_SECONDS
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 0.5:
            return now - started
        if now - started > limit:
            raise AssertionError(f"the page did not settle within {timeout:.0f} s ({busy or last_busy or 'busy'} "
                                 "less than half a second before)")
        page.wait_for_timeout(100)


_RENDERED_JS = """
() => Array.from(document.querySelectorAll('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]'))
  .some(element => element.offsetHeight > 0)
"""

_BUSY_JS = """
() => {
  if (document.querySelector('[data-testid="stSpinner"]')) return 'computing';
  if (document.querySelector('[data-testid="stStatusWidget"]')) return 'running';
  if (document.querySelector('[data-testid="stAppSkeleton"]')) return 'loading the app';
  if (document.querySelector('[data-testid="stSkeleton"]')) return 'loading';
  if (document.querySelector('[data-testid="stConnectionStatus"]')) return 'connecting';
  if (document.querySelector('[data-stale="true"]')) return 'stale elements';
  return '';
}
"""


def page_problems(page, titles: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """What is wrong with the page as a trader sees it: errors, or a missing or broken app shell."""
    problems = []
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        problems.append("Streamlit exception: " + exceptions.first.inner_text()[:400])
    errors = page.locator('[data-testid="stAlertContentError"]')
    if errors.count():
        problems.append("error box: " + " | ".join(t[:200] for t in errors.all_inner_texts()))
    links = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    shown = [text.strip().splitlines()[-1].strip() for text in links if text.strip()]
    if shown != titles:
        problems.append(f"navigation shows {shown}, expected {titles}")
    sidebar = page.locator('[data-testid="stSidebar"]')
    if sidebar.count() == 0 or sidebar.get_by_text("Market", exact=True).count() == 0:
        problems.append("the market sidebar is missing")
    main = page.locator('[data-testid="stMainBlockContainer"]')
    viewport = page.viewport_size or {"width": 0}
    if main.count() == 0:
        problems.append("no main block")
    else:
        box = main.first.bounding_box() or {"width": 0}
        if box["width"] < 0.6 * viewport["width"]:
            problems.append(f"narrow layout: main column {box['width']:.0f} px of a {viewport['width']} px window")
    return problems


def screenshot_on_failure(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path))
    return path


def assert_page_ok(page, titles: list[str], name: str,  # type: ignore[no-untyped-def]
                   timeout: float = SETTLE_SECONDS) -> float:
    """Settle, then fail with the problems and a screenshot path if the page is not what a trader expects."""
    try:
        seconds = settle(page, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{name}: {exc}; screenshot {screenshot_on_failure(page, name)}") from exc
    problems = page_problems(page, titles)
    if problems:
        raise AssertionError(f"{name}: {'; '.join(problems)}; screenshot {screenshot_on_failure(page, name)}")
    return seconds


#: Finds a Plotly figure's legend drawn over its title, plot area or axis labels, a title or label cut off at
#: the figure's edge, and metric values cut off.
FIGURE_OVERLAPS_JS = """
() => {
  const box = el => { const r = el.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const overlap = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > 2 && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 2;
  const found = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const title = plot.querySelector('.gtitle');
    const name = title ? title.textContent : `figure ${i + 1}`;
    const frame = box(plot);
    if (frame.r - frame.l > 0) {
      plot.querySelectorAll('.gtitle, .indicatorlayer text, .xtitle, .ytitle, .g-xtitle text, .g-ytitle text')
        .forEach(text => {
          const t = box(text);
          if (t.r - t.l > 0 && text.textContent.trim() && (t.l < frame.l - 2 || t.r > frame.r + 2))
            found.push(`${name}: "${text.textContent.trim().slice(0, 40)}" cut off at the figure's edge`);
        });
    }
    const legend = plot.querySelector('g.legend .bg');
    if (!legend || plot.getBoundingClientRect().width === 0) return;
    const lb = box(legend);
    if (title && title.textContent.trim() && overlap(lb, box(title))) found.push(`${name}: legend over the title`);
    plot.querySelectorAll('.nsewdrag').forEach(area => {
      if (overlap(lb, box(area))) found.push(`${name}: legend over the plot area`);
    });
    plot.querySelectorAll('.xtick text, .xtitle').forEach(tick => {
      if (overlap(lb, box(tick))) found.push(`${name}: legend over the x-axis labels`);
    });
  });
  document.querySelectorAll('[data-testid="stMetricValue"]').forEach(value => {
    const inner = value.querySelector('div') || value;
    if (value.getBoundingClientRect().width > 0 && inner.scrollWidth > inner.clientWidth + 1) {
      const label = value.parentElement.querySelector('[data-testid="stMetricLabel"]');
      found.push(`metric ${label ? label.textContent.trim() : ''}: value cut off (${inner.textContent.trim()})`);
    }
  });
  return Array.from(new Set(found));
}
"""
