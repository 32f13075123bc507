"""DESIGN.md: imports point one way. This test fails when a module breaks the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "pinelab_core"
DOMAIN = {"data", "features", "models", "rl", "training", "explain", "signals", "backtest", "live", "structure",
          "sentiment", "insights", "patterns"}
FOUNDATION = {"store", "types", "errors", "config"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(path: Path) -> str:
    rel = path.relative_to(CORE)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_imports_point_one_way(path: Path) -> None:
    layer = _layer(path)
    imported = _imports(path)
    uses_streamlit = any(name == "streamlit" or name.startswith("streamlit.") for name in imported)
    core_layers = {n.split(".")[1] for n in imported if n.startswith("pinelab_core.") and len(n.split(".")) > 1}
    if layer != "ui":
        assert not uses_streamlit, f"{path.name}: only pinelab_core.ui may import streamlit"
    if layer in DOMAIN | FOUNDATION | {"webhook", "api", "viz", "cli"}:
        assert "ui" not in core_layers, f"{path.name} ({layer}) must not import pinelab_core.ui"
    if layer in DOMAIN | FOUNDATION | {"webhook", "api", "cli"}:
        assert "viz" not in core_layers, f"{path.name} ({layer}) must not import pinelab_core.viz"
    if layer == "features":  # market structure is built on the features, never the other way round
        assert "structure" not in core_layers, f"{path.name}: features must not import pinelab_core.structure"
    if layer in FOUNDATION:
        leaked = core_layers & (DOMAIN | {"webhook", "api", "cli"})
        assert not leaked, f"{path.name}: foundation imports a domain module"


def test_the_rule_itself_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom pinelab_core.ui import x\n")
    assert "streamlit" in _imports(bad) and "pinelab_core.ui" in _imports(bad)
