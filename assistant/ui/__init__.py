"""The Gradio web app: one module per tab, assembled by ``app_builder``."""

import os

# Read by gradio when it is imported: no usage reports leave this machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant.ui.app_builder import build_app, launch_app  # noqa: E402

__all__ = ["build_app", "launch_app"]
