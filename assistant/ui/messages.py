"""How the app reports the outcome of an action: one markdown line, plus a toast for refusals.

Only the project's own errors (``AssistantError``) are turned into messages: their text says
what was wrong and what to do. Anything else is a bug and is left to gradio's error handling.
"""

import gradio as gr

from core.errors import AssistantError


def done(text: str) -> str:
    return f"✔ {text}"


def refused(error: AssistantError | str) -> str:
    """Show the reason as a warning toast and return it for the status box."""
    gr.Warning(str(error))
    return f"⚠️ {error}"
