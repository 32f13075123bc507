"""Page discovery: every `app_pages/<N>_<Title>.py` becomes a navigation entry, ordered by N."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

__all__ = ["PAGE_ICONS", "PageSpec", "discover_pages", "page_specs", "page_title"]

#: Material icons by page title; pages not listed get `DEFAULT_ICON`.
PAGE_ICONS: dict[str, str] = {
    "Charts": ":material/candlestick_chart:",
    "Features": ":material/functions:",
    "Training": ":material/model_training:",
    "Registry": ":material/inventory_2:",
    "Predictions": ":material/online_prediction:",
    "Explain": ":material/insights:",
    "Signals": ":material/notifications_active:",
    "Sentiment": ":material/newspaper:",
}
DEFAULT_ICON = ":material/article:"

_PAGE_NAME = re.compile(r"^(?P<number>\d+)_(?P<name>.+)$")


def page_title(path: Path) -> str:
    """'3_Model_Registry.py' -> 'Model Registry'."""
    match = _PAGE_NAME.match(path.stem)
    name = match.group("name") if match else path.stem
    return name.replace("_", " ").strip()


def _page_order(path: Path) -> tuple[int, str]:
    match = _PAGE_NAME.match(path.stem)
    return (int(match.group("number")) if match else 10**6, path.stem)


@dataclass(frozen=True)
class PageSpec:
    """Where a page lives and how the navigation shows it."""

    path: Path
    title: str
    icon: str
    url_path: str
    default: bool


def page_specs(folder: Path) -> list[PageSpec]:
    """The pages in `folder` (files starting with '_' are helpers, not pages), sorted by numeric prefix."""
    files = sorted((p for p in Path(folder).glob("*.py") if not p.name.startswith("_")), key=_page_order)
    return [
        PageSpec(path, page_title(path), PAGE_ICONS.get(page_title(path), DEFAULT_ICON),
                 re.sub(r"[^a-z0-9]+", "-", page_title(path).lower()).strip("-"), number == 0)
        for number, path in enumerate(files)
    ]


def discover_pages(folder: Path) -> list[st.Page]:
    """One `st.Page` per page file in `folder`, sorted by its numeric prefix; the first is the default."""
    return [
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default)
        for spec in page_specs(folder)
    ]
