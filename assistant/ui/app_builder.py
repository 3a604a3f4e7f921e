"""Assemble the tabs around one shared ``Assistant`` and launch the server.

``launch_app`` is what ``python app.py`` and the tests both call, so the tests drive exactly
the app a user gets: the same queue, limits and endpoints. Answering from a bundle
(``--bundle``), the app has the Assistant and Live tabs only: editing the KB, adding examples
and training need the full install (their modules, which import torch, are not even loaded).
"""

import gradio as gr

from assistant.jobs.kb_editor import KbEditor
from assistant.service import Assistant
from assistant.ui.assistant_tab import AssistantTab
from assistant.ui.live_tab import LiveTab
from core.cli import FULL_INSTALL
from core.settings import Settings
from indexing.frames.frame_index import THUMBS_DIR

# Requests answered at once; the rest wait in the queue (each one holds decoded frames and
# model activations, and a laptop CPU has few cores).
CONCURRENCY = 4
TITLE = "Activity assistant"
CSS = """
.gradio-container { max-width: 1500px !important; }
#verdict h3 { margin-top: 0; }
#banner:empty { display: none; }
#neighbours .caption-label { max-width: 94%; font-size: 12px; padding: 1px 5px; white-space: normal; opacity: 0.9; }
"""


def build_app(assistant: Assistant) -> gr.Blocks:
    bundle = assistant.settings.bundle
    # Uploaded videos (and their previews) leave gradio's cache a day after upload.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            f"## {TITLE}\nDrop in a short video and ask what is happening. The answer cites the classifier, "
            "the most similar known clips and the knowledge base; follow-up questions continue the chat."
        )
        if bundle is not None:
            gr.Markdown(
                f"Answering from the bundle `{bundle}` with ONNX Runtime. Editing the knowledge base, adding "
                f"examples, training and Explain need the full install (`{FULL_INSTALL}`).",
                elem_id="bundle-note",
            )
        banner = gr.Markdown(label="Notice", elem_id="banner")
        with gr.Tab("Assistant"):
            AssistantTab(assistant).render()
        with gr.Tab("Live"):
            LiveTab(assistant).render()
        if bundle is None:
            _full_install_tabs(assistant, banner, demo)
    return demo


def _full_install_tabs(assistant: Assistant, banner: gr.Markdown, demo: gr.Blocks) -> None:
    """Knowledge base, Library and Models: they write the library and train, with torch."""
    from assistant.ui.kb_tab import KbTab
    from assistant.ui.library_tab import LibraryTab
    from assistant.ui.models_tab import ModelsTab

    editor = KbEditor(assistant.knowledge_base)
    library = LibraryTab(assistant, editor)
    with gr.Tab("Knowledge base") as kb_tab:
        KbTab(editor).render(kb_tab)
    with gr.Tab("Library") as library_tab:
        library_status = library.render(library_tab, banner)
    with gr.Tab("Models") as models_tab:
        ModelsTab(assistant).render(models_tab, banner)
    demo.load(library.status, None, [library_status, banner], api_visibility="private")


def launch_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: tuple[str, str] | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> gr.Blocks:
    """Load the assistant (syncing the KB), build the page and serve it; returns the running app."""
    assistant = Assistant(settings)
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size=settings.max_file_bytes,
        allowed_paths=[str(settings.index_dir / THUMBS_DIR)],
        show_error=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        css=CSS,
        theme=gr.themes.Soft(primary_hue="indigo"),
    )
    return demo
