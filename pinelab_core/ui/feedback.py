"""How the dashboard tells a trader something went wrong: the message and what to do, no traceback."""

from __future__ import annotations

import streamlit as st

from pinelab_core.errors import PinelabError

__all__ = ["show_error", "what_to_do"]


def what_to_do(exc: PinelabError) -> str:
    """The advice part of the error class's docstring: 'Retry later, or use the cache.', 'Fix the input.'."""
    doc = " ".join((type(exc).__doc__ or "").split())
    _, _, advice = doc.partition(". ")
    return advice.strip()


def show_error(exc: BaseException) -> None:
    """Show `exc` on the page. PinelabErrors get their message and advice; anything else is a bug, shown in full."""
    if isinstance(exc, PinelabError):
        st.error(str(exc), icon=":material/error:")
        advice = what_to_do(exc)
        if advice:
            st.caption(f"What to do: {advice}")
        return
    st.error(f"Unexpected error ({type(exc).__name__}): {exc}. This is a PineLab bug; please report it.")
    st.exception(exc)
