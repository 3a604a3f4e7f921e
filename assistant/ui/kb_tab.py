"""The Knowledge base tab: pick an activity file, edit it with a live preview, save, create, delete.

Every change goes through ``KbEditor`` (names confined to kb/, validated, atomic, synced to
Chroma at once), so the next answer already quotes the new text.
"""

import gradio as gr

from assistant.jobs.kb_editor import KbEditor
from assistant.ui.messages import done, refused
from core.errors import KnowledgeBaseError
from indexing.kb.front_matter import split_front_matter
from indexing.kb.knowledge_base import SyncReport


def preview_markdown(text: str) -> str:
    """The file as it will be read: its front matter as one line, then the rendered body."""
    if not text:
        return "*Choose a file on the left, or create a new one.*"
    try:
        front, body = split_front_matter(text)
    except KnowledgeBaseError as error:
        return f"⚠️ **This file cannot be saved yet:** {error}"
    aliases = ", ".join(front.aliases) or "none"
    confused = ", ".join(front.confused_with) or "none"
    return f"**label** `{front.label}` · **aliases** {aliases} · **confused with** {confused}\n\n---\n\n{body}"


def synced(report: SyncReport) -> str:
    text = f"knowledge base synced ({report.summary()})"
    return text + "".join(f"; skipped {name}: {reason}" for name, reason in report.skipped)


class KbTab:
    def __init__(self, editor: KbEditor) -> None:
        self.editor = editor

    def file_list(self, selected: str | None = None) -> gr.Dropdown:
        files = self.editor.files()
        return gr.Dropdown(choices=files, value=selected if selected in files else None)

    # -- handlers (each is also a named API endpoint) -------------------------------------------
    def read(self, name: str) -> tuple[str, str, str]:
        """(text, preview, status) of one file."""
        if not name:
            return "", preview_markdown(""), ""
        try:
            text = self.editor.read(name)
        except KnowledgeBaseError as error:
            return "", preview_markdown(""), refused(error)
        return text, preview_markdown(text), f"Editing `{self.editor.kb_dir.name}/{name}`."

    def save(self, name: str, text: str) -> tuple[str, gr.Dropdown]:
        if not name:
            return refused("Choose a file, or type a new name ending in .md, before saving."), self.file_list()
        try:
            report = self.editor.save(name, text)
        except KnowledgeBaseError as error:
            return refused(error), self.file_list(name)
        return done(f"Saved `{self.editor.kb_dir.name}/{name}`; {synced(report)}."), self.file_list(name)

    def create(self, label: str) -> tuple[gr.Dropdown, str, str, str]:
        try:
            name = self.editor.create(label)
        except KnowledgeBaseError as error:
            return self.file_list(), "", preview_markdown(""), refused(error)
        text = self.editor.read(name)
        status = done(f"Created `{self.editor.kb_dir.name}/{name}` from the template; fill in the sections and save.")
        return self.file_list(name), text, preview_markdown(text), status

    def delete(self, name: str) -> tuple[gr.Dropdown, str, str, str, gr.Group]:
        try:
            report = self.editor.delete(name)
        except KnowledgeBaseError as error:
            return self.file_list(name), gr.skip(), gr.skip(), refused(error), gr.Group(visible=False)
        status = done(f"Deleted `{self.editor.kb_dir.name}/{name}`; {synced(report)}.")
        return self.file_list(), "", preview_markdown(""), status, gr.Group(visible=False)

    def ask_to_delete(self, name: str) -> tuple[gr.Group, str]:
        if not name:
            return gr.Group(visible=False), refused("Choose a file to delete first.")
        return gr.Group(visible=True), f"Delete `{self.editor.kb_dir.name}/{name}` for good?"

    # -- layout ---------------------------------------------------------------------------------
    def render(self, tab: gr.Tab) -> None:
        """The file list is re-read whenever ``tab`` is opened (files may change outside the app)."""
        gr.Markdown(
            f"One markdown file per activity in `{self.editor.kb_dir}`: front matter (`label`, `aliases`, "
            "`confused_with`) between `---` lines, then `## ` sections. Saving validates the file and updates "
            "the search index at once; edits made in another editor are picked up before the next answer."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=220):
                files = gr.Dropdown(
                    choices=self.editor.files(),
                    value=None,
                    label="Activity file",
                    allow_custom_value=True,
                    elem_id="kb-file",
                )
                reload_button = gr.Button("Reload list", size="sm")
                new_label = gr.Textbox(label="New activity (dataset class name)", placeholder="RopeClimbing")
                new_button = gr.Button("New from template", size="sm")
                delete_button = gr.Button("Delete file…", variant="stop", size="sm")
                with gr.Group(visible=False) as confirm_box:
                    confirm_text = gr.Markdown(padding=True)
                    with gr.Row():
                        confirm_button = gr.Button("Yes, delete", variant="stop", size="sm")
                        cancel_button = gr.Button("Cancel", size="sm")
            with gr.Column(scale=5):
                editor = gr.Code(
                    language="markdown", lines=26, max_lines=40, wrap_lines=True, label="Markdown", elem_id="kb-editor"
                )
                save_button = gr.Button("Save and sync", variant="primary")
                status = gr.Markdown(label="Result", elem_id="kb-status")
            with gr.Column(scale=5):
                preview = gr.Markdown(preview_markdown(""), label="Preview", container=True, elem_id="kb-preview")

        files.change(self.read, files, [editor, preview, status], api_name="kb_read")
        editor.change(preview_markdown, editor, preview, api_visibility="private", queue=False, show_progress="hidden")
        save_button.click(self.save, [files, editor], [status, files], api_name="kb_save")
        new_button.click(self.create, new_label, [files, editor, preview, status], api_name="kb_new")
        reload_button.click(self.file_list, files, files, api_visibility="private")
        tab.select(self.file_list, files, files, api_visibility="private")
        delete_button.click(self.ask_to_delete, files, [confirm_box, confirm_text], api_visibility="private")
        cancel_button.click(lambda: gr.Group(visible=False), None, confirm_box, api_visibility="private")
        confirm_button.click(self.delete, files, [files, editor, preview, status, confirm_box], api_name="kb_delete")
