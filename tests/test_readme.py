"""Every command in the README runs, as written, on the offline demo market.

The README's `bash` blocks are read from the file itself, so a command edited there is the command tested:
the two install commands (the first's install resolves against the lock and its dashboard answers; the
second is what `.ci/run` runs), every `pinelab` line of the command-line block, the webhook block (sidecar,
curl, alerts) and the lock refresh.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"

pytestmark = pytest.mark.slow


def bash_blocks(text: str) -> list[list[str]]:
    """The README's ```bash blocks, as lists of commands (continuation lines joined, comment lines kept)."""
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        blocks.append([line.strip() for line in body.replace("\\\n", " ").splitlines() if line.strip()])
    return blocks


def _block(first_word: str) -> list[str]:
    matches = [b for b in bash_blocks(README.read_text(encoding="utf-8")) if any(
        line.split()[0] == first_word for line in b)]
    assert matches, f"no bash block in the README uses {first_word!r}"
    return matches[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINELAB_")}
    env.update(PINELAB_DATA_DIR=str(tmp_path / "data"), PINELAB_MODELS_DIR=str(tmp_path / "models"),
               PINELAB_DEFAULT_SOURCE="demo", PYTHONPATH=str(REPO_ROOT), **extra)
    return env


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 180.0) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds:.0f} s")


def _stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    launch, test = blocks[0], blocks[1]
    assert launch == ["pip install -c constraints.txt -e . && streamlit run app.py"]
    assert test == ['pip install -c constraints.txt -e ".[dev]" && python -m pytest']
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test[0] in ci, ".ci/run must run exactly the README's test command"


def test_the_launch_command_installs_from_the_lock_and_serves_the_dashboard(tmp_path: Path) -> None:
    install, launch = (part.strip() for part in bash_blocks(README.read_text(encoding="utf-8"))[0][0].split("&&"))
    # The install resolves every requirement against the lock (what is installed already is kept; nothing new).
    resolved = subprocess.run([sys.executable, "-m", "pip", *shlex.split(install)[1:], "--dry-run", "--no-deps"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert resolved.returncode == 0, resolved.stderr
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", *shlex.split(launch), "--server.headless", "true",
                               "--server.port", str(port)], cwd=REPO_ROOT, env=_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/_stcore/health", server)
        assert "<title>Streamlit</title>" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    finally:
        _stop(server)


def test_every_command_line_example_runs_on_the_demo_market(tmp_path: Path) -> None:
    commands = [line for line in _block("pinelab") if line.startswith("pinelab ")]
    assert len(commands) >= 8
    for line in commands:
        argv = shlex.split(line, comments=True)
        done = subprocess.run([sys.executable, "-m", "pinelab_core", *argv[1:]], cwd=tmp_path, env=_env(tmp_path),
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert done.stdout.strip(), f"{line} printed nothing"


def test_the_webhook_example_stores_the_alert_and_lists_it(tmp_path: Path) -> None:
    block = _block("curl")
    port = str(_free_port())
    env = _env(tmp_path)
    for name, value in re.findall(r"^export (\w+)=(\S+)$", "\n".join(block), flags=re.M):
        env[name] = shlex.split(value)[0]
    serve = next(line for line in block if line.startswith("pinelab webhook"))
    argv = [a.replace("8787", port) for a in shlex.split(serve.rstrip("&").strip(), comments=True)]
    sidecar = subprocess.Popen([sys.executable, "-m", "pinelab_core", *argv[1:]], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", sidecar)
        curl = next(i for i, line in enumerate(block) if line.startswith("curl "))
        sent = subprocess.run(["bash", "-c", block[curl].replace("8787", port)], env=env, capture_output=True,
                              text=True, timeout=60)
        expected = json.loads(block[curl + 1].lstrip("# "))
        assert json.loads(sent.stdout) == expected, sent.stdout + sent.stderr
        listed = subprocess.run([sys.executable, "-m", "pinelab_core", "alerts"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0 and "BTCUSDT" in listed.stdout, listed.stdout + listed.stderr
    finally:
        _stop(sidecar)


def test_the_lock_refresh_command_exists_and_runs_the_suite_before_writing_the_lock() -> None:
    """The refresh itself installs a fresh environment and runs this whole suite, so the suite cannot run it;
    it is checked as a script: valid bash, executable, and the lock is written only after the suite passed."""
    (command,) = _block(".ci/refresh-lock")
    script = REPO_ROOT / command
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert text.index("-m pytest") < text.index("> constraints.txt.new")


def test_every_setting_and_reference_page_is_in_the_readme() -> None:
    from dataclasses import fields

    from pinelab_core.config import Settings

    text = README.read_text(encoding="utf-8")
    missing = [f"PINELAB_{f.name.upper()}" for f in fields(Settings) if f"PINELAB_{f.name.upper()}" not in text]
    assert not missing, f"settings missing from the README's configuration: {missing}"
    for page in sorted((REPO_ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in text, f"docs/{page.name} is not linked from the README"
    for image in re.findall(r"\]\((docs/images/[^)]+)\)", text):
        assert (REPO_ROOT / image).is_file(), image
