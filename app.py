"""PineLab dashboard entry point: page config, navigation over app_pages/, the shared market sidebar.

The page files live in `app_pages/`, not `pages/`: a `pages/` folder beside the entry script switches on
Streamlit's legacy multipage mode for the whole server process until the first run reaches
`st.navigation`. A first request for a legacy page URL (e.g. `/Predictions`) then runs the page file alone,
without this script, and every later run of every session loses the app shell (tests/test_ui_shell.py).
"""

from pathlib import Path

import streamlit as st

from pinelab_core.ui import app_settings, discover_pages, render_market_sidebar

st.set_page_config(page_title="PineLab", page_icon="🌲", layout="wide")
navigation = st.navigation(discover_pages(Path(__file__).parent / "app_pages"))
render_market_sidebar(app_settings())
navigation.run()
