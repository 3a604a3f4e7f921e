"""The Library tab: what is built, labelled example clips, the KB index, and one-click setup.

Changes to the frame index (adding examples, the setup run) are serialised through one
concurrency group, so two uploads never write the index at the same time.
"""

import gradio as gr

from assistant.jobs.example_clips import add_example_clips
from assistant.jobs.kb_editor import KbEditor
from assistant.jobs.setup_pipeline import SetupOptions, run_setup
from assistant.jobs.source_roots import confined_source
from assistant.service import Assistant
from assistant.ui.kb_tab import synced
from assistant.ui.messages import done, refused
from assistant.ui.status_view import banner_markdown, kb_chunks, status_markdown
from core.errors import AssistantError

INDEX_WRITES = "index-writes"


class LibraryTab:
    def __init__(self, assistant: Assistant, editor: KbEditor) -> None:
        self.assistant = assistant
        self.editor = editor

    # -- handlers -------------------------------------------------------------------------------
    def status(self) -> tuple[str, str]:
        """(library status, banner): re-read after every change and on page load."""
        status = self.assistant.status()
        return status_markdown(status, kb_chunks(self.assistant)), banner_markdown(status)

    def add_examples(
        self,
        files: list[str] | None,
        label: str,
        none_of_these: bool = False,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (how gradio injects a progress tracker)
    ) -> tuple[str, str, str]:
        try:
            added = add_example_clips(self.assistant.settings, files or [], label, negative=none_of_these)
        except AssistantError as error:
            return refused(error), *self.status()
        self.assistant.refresh()
        if none_of_these:
            return done(f"Added {len(added)} clip(s) of **none of these**: {', '.join(added)}."), *self.status()
        label = label.strip()
        note = ""
        if label.lower() not in self.editor.labels():
            note = f" There is no knowledge-base file for {label} yet: create one in the **Knowledge base** tab."
        return done(f"Added {len(added)} clip(s) as **{label}**: {', '.join(added)}.{note}"), *self.status()

    def sync_kb(self) -> tuple[str, str, str]:
        try:
            report = self.editor.kb.sync()
        except AssistantError as error:
            return refused(error), *self.status()
        self.assistant.refresh()
        return done(synced(report).capitalize() + "."), *self.status()

    def setup(
        self,
        source: str,
        epochs: float,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (how gradio injects a progress tracker)
    ) -> tuple[str, str, str]:
        if not (source or "").strip():
            return refused(
                "Enter the path of a folder of labelled clips (one sub-folder per activity), "
                "or the URL of a zip / tar / rar of one."
            ), *self.status()
        try:
            report = run_setup(
                confined_source(source.strip(), self.assistant.settings),
                self.assistant.settings,
                SetupOptions(epochs=int(epochs)),
                progress=lambda fraction, message: progress(fraction, desc=message),
            )
        except AssistantError as error:
            return refused(error), *self.status()
        self.assistant.reload()
        return done("Setup finished.\n\n```\n" + report.summary() + "\n```"), *self.status()

    def setup_ucf101(
        self,
        epochs: float,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (how gradio injects a progress tracker)
    ) -> tuple[str, str, str]:
        """The UCF101 button: ``setup --source ucf101`` (download with its byte bar, then every setup step)."""
        return self.setup("ucf101", epochs, progress)

    # -- layout ---------------------------------------------------------------------------------
    def render(self, tab: gr.Tab, banner: gr.Markdown) -> gr.Markdown:
        """Returns the status box, which the page fills on load; re-read whenever ``tab`` is opened."""
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                status = gr.Markdown(label="Library status", elem_id="library-status")
                refresh_button = gr.Button("Refresh", size="sm")
            with gr.Column(scale=2):
                with gr.Group():
                    gr.Markdown("**Add labelled example clips** to the frame index (no retraining needed).")
                    files = gr.File(file_count="multiple", file_types=["video"], label="Example clips")
                    label = gr.Textbox(label="Activity label", placeholder="e.g. RopeClimbing")
                    none_of_these = gr.Checkbox(
                        label="None of these: clips of other activities, to be called unknown (no label needed)"
                    )
                    add_button = gr.Button("Add to the library", variant="primary")
                with gr.Group():
                    gr.Markdown("**Knowledge base**: re-read every file in the KB folder into the search index.")
                    sync_button = gr.Button("Sync knowledge base")
                with gr.Group():
                    gr.Markdown(
                        "**Set up from a dataset** (one sub-folder of clips per activity, or UCF101): "
                        "prepare, train EfficientNet-Lite0 (frozen), index frames, sync the KB, activate. "
                        "A URL is downloaded and unpacked first; **Download UCF101** fetches its ten "
                        "first-release classes (6.5 GB archive, resumable, mirrors tried in turn)."
                    )
                    source = gr.Textbox(
                        label="Dataset folder on this machine, or URL of a zip / tar / rar",
                        placeholder="/data/my_clips",
                    )
                    epochs = gr.Slider(1, 20, value=SetupOptions.epochs, step=1, label="Training epochs")
                    with gr.Row():
                        setup_button = gr.Button("Build everything")
                        ucf101_button = gr.Button("Download UCF101 and build")
                result = gr.Markdown(label="Result", elem_id="library-result")
        outputs = [result, status, banner]
        refresh_button.click(self.status, None, [status, banner], api_name="status")
        tab.select(self.status, None, [status, banner], api_visibility="private")
        add_button.click(
            self.add_examples,
            [files, label, none_of_these],
            outputs,
            api_name="add_examples",
            concurrency_id=INDEX_WRITES,
            concurrency_limit=1,
        )
        sync_button.click(self.sync_kb, None, outputs, api_name="kb_sync")
        setup_button.click(
            self.setup, [source, epochs], outputs, api_name="setup", concurrency_id=INDEX_WRITES, concurrency_limit=1
        )
        ucf101_button.click(
            self.setup_ucf101,
            [epochs],
            outputs,
            api_name="setup_ucf101",
            concurrency_id=INDEX_WRITES,
            concurrency_limit=1,
        )
        return status
