"""The TradingView webhook sidecar: a FastAPI app served by uvicorn beside the dashboard.

    create_app(settings) -> FastAPI          the app (POST /webhook/tradingview, GET /healthz)
    serve(settings, host=None, port=None)    run it (what `pinelab webhook` does)
    check_binding(settings, host, port)      the refusal to listen publicly without a secret

Nothing here imports streamlit or the model libraries.
"""

from pinelab_core.webhook.app import ALERT_PATH, create_app
from pinelab_core.webhook.server import check_binding, serve

#: The name `pinelab_core` exports it under, where "create_app" alone would be ambiguous.
create_webhook_app = create_app

__all__ = ["ALERT_PATH", "check_binding", "create_app", "create_webhook_app", "serve"]
