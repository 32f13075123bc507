"""PineLab dashboard entry point: page config, navigation over pages/, the shared market sidebar."""

from pathlib import Path

import streamlit as st

from pinelab_core.ui import app_settings, discover_pages, render_market_sidebar

st.set_page_config(page_title="PineLab", page_icon="🌲", layout="wide")
navigation = st.navigation(discover_pages(Path(__file__).parent / "pages"))
render_market_sidebar(app_settings())
navigation.run()
