"""How the app reports the outcome of an action: one markdown line, plus a toast for refusals.

The project's own errors (``AssistantError``) become their message: it says what was wrong and
what to do. Anything else is a bug: its traceback goes to the server log and the user still
gets a readable line (never gradio's bare "upstream app has raised an exception").
"""

import logging

import gradio as gr

from core.errors import AssistantError


def done(text: str) -> str:
    return f"✔ {text}"


log = logging.getLogger(__name__)


def unexpected(error: Exception, doing: str) -> str:
    """Log the traceback of a bug and say, in words, what failed. The exception's text stays in the log:
    a library's message can hold server paths and object reprs, which are nothing the user can act on."""
    log.exception("unexpected error while %s", doing)
    return (
        f"Something went wrong while {doing}. This is a bug, not your clip; "
        "the server log has the details. Please try again."
    )


def refused(error: AssistantError | str) -> str:
    """Show the reason as a warning toast and return it for the status box."""
    gr.Warning(str(error))
    return f"⚠️ {error}"
