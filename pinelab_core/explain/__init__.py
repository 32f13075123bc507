"""SHAP explanations for trees, nets and the ensemble, in one additive space (centred log-probability).

    explain(symbol, timeframe="1d", source="auto", bar=None) -> Explanation   (any historical bar)
    explain_history(symbol, ..., bars=200) -> (ensemble Attribution, member Attributions)  (global views)
    explain_attention(symbol, ..., bar=None) -> {"name/vN": weights over the window}  (LSTM members)
    explain_tabular / explain_sequence / ensemble_attribution: the building blocks
"""

import sys
import types
from typing import Any

from pinelab_core.explain.attribution import OUTPUT_SPACE, Attribution
from pinelab_core.explain.ensemble import Explanation, MemberExplanation, ensemble_attribution, explanation_at
from pinelab_core.explain.nets import explain_sequence
from pinelab_core.explain.service import explain, explain_attention, explain_history
from pinelab_core.explain.trees import explain_tabular

__all__ = [
    "OUTPUT_SPACE",
    "Attribution",
    "Explanation",
    "MemberExplanation",
    "ensemble_attribution",
    "explain",
    "explain_attention",
    "explain_history",
    "explain_sequence",
    "explain_tabular",
    "explanation_at",
]


class _CallableExplainModule(types.ModuleType):
    """`pinelab_core.explain` is both this package and the public function `explain`.

    Importing the package binds the name `explain` on `pinelab_core` to the package, which would shadow the
    function exported there; making the package callable keeps `pinelab_core.explain(symbol, ...)` working
    whichever of the two the name resolves to.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Explanation:
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableExplainModule
