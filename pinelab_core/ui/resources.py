"""Cached resources every page shares: the settings and the database engine."""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.store import get_engine

__all__ = ["app_engine", "app_settings"]


def app_settings() -> Settings:
    """The dashboard's `Settings`, read from the environment once per distinct `PINELAB_*` environment."""
    # Keyed by the PINELAB_* variables so a changed environment (a test, a restarted desk) is re-read
    # while every rerun of an unchanged one reuses the same frozen object.
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PINELAB_")))
    return _settings_for(environment)


@st.cache_resource(show_spinner=False)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(environment))


def app_engine() -> Engine:
    """The SQLModel engine for the current settings (built, migrated and cached on first use)."""
    return _engine_for(app_settings())


@st.cache_resource(show_spinner=False)
def _engine_for(settings: Settings) -> Engine:
    return get_engine(settings)
