"""The Assistant tab: upload or record a clip, ask, read a streamed answer beside its evidence.

A clip is analysed once, when it changes; its Evidence stays in the session's state, so
follow-up questions continue the same chat about the same evidence without decoding again.
Problems a user can act on (unreadable file, too long, nothing built) become a message in the
chat and a warning toast, never a stack trace.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answering.chain import Replacement
from assistant.evidence import Evidence
from assistant.service import DEFAULT_QUESTION, Assistant
from assistant.ui import evidence_view
from assistant.ui.explain_view import ExplainView
from assistant.ui.messages import unexpected
from assistant.ui.playable import original_of, playable_preview
from core.errors import AssistantError

FOLLOW_UP_PLACEHOLDER = "Ask a follow-up about this clip, e.g. what could it be confused with?"
NO_CLIP = "Upload a video (or record one with the webcam) first, then press **Ask**."


@dataclass(frozen=True)
class AnalysedClip:
    """What the session knows about its current clip."""

    key: str
    evidence: Evidence


def clip_key(path: str) -> str:
    """Names the clip's content: gradio keeps each upload in a folder named by its content hash,
    so the same file sent again (a follow-up through the API) keeps its key."""
    return f"{Path(path).resolve()}:{Path(path).stat().st_size}"


def follow_up_options(evidence: Evidence) -> list[dict[str, str]]:
    """Suggested next questions, shown as buttons under the answer."""
    label = evidence.verdict.label if not evidence.verdict.is_unknown else None
    questions = ["How sure are you, and why?"]
    if label:
        questions += [f"What could {label} be confused with?", f"How does {label} look on video?"]
    return [{"value": question} for question in questions]


def selected_value(event: gr.SelectData) -> str:
    """The suggestion a user clicked under an answer."""
    return str(event.value)


def _message(role: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": text, **extra}


class AssistantTab:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    # -- handlers -------------------------------------------------------------------------------
    def panels(self, evidence: Evidence | None) -> tuple:
        """Values of the evidence panels (verdict, labels, gallery, passages, timeline)."""
        if evidence is None:
            return "", None, [], "", gr.Dataframe(value=[], visible=False)
        rows = evidence_view.timeline_rows(evidence)
        return (
            evidence_view.verdict_markdown(evidence),
            evidence_view.label_scores(evidence),
            evidence_view.neighbour_gallery(evidence),
            evidence_view.passages_markdown(evidence),
            gr.Dataframe(value=rows, visible=bool(rows)),
        )

    def reset(self) -> tuple:
        """A new clip starts a new conversation."""
        return [], None, DEFAULT_QUESTION, *self.panels(None)

    def new_clip(self, video: str | None) -> tuple:
        """Show the new clip (as a playable preview when the browser cannot play it) and clear the chat."""
        return (str(playable_preview(video)) if video else None), *self.reset()

    def _refusal(self, question: str, history: list, text: str, clip: AnalysedClip | None) -> tuple:
        gr.Warning(text)
        chat = [*history, _message("user", question), _message("assistant", f"⚠️ {text}")]
        return chat, clip, question, *self.panels(clip.evidence if clip else None)

    def _stream(self, question: str, history: list, clip: AnalysedClip) -> Iterator[tuple]:
        """The answer in chunks; the panels are sent with the first and the last chunk only."""
        panels = self.panels(clip.evidence)
        chat = [*history, _message("user", question), _message("assistant", "")]
        yield chat, clip, "", *panels
        text = ""
        try:
            for chunk in self.assistant.answer_stream(question, clip.evidence, history):
                if isinstance(chunk, Replacement):  # the model's answer failed its grounding check
                    gr.Warning("The model's answer was withheld; the offline answer replaces it (see the note).")
                    text = chunk.lstrip()
                else:
                    text += chunk
                chat[-1] = _message("assistant", text)
                yield chat, clip, gr.skip(), *(gr.skip(),) * len(panels)
        except AssistantError as error:
            gr.Warning(str(error))
            text += f"\n\n⚠️ {error}"
        except Exception as error:  # a bug: logged with its traceback, shown as a readable line
            message = unexpected(error, "writing the answer")
            gr.Warning(message)
            text += f"\n\n⚠️ {message}"
        chat[-1] = _message("assistant", text, options=follow_up_options(clip.evidence))
        yield chat, clip, "", *panels

    def ask(
        self,
        video: str | None,
        question: str,
        history: list | None,
        clip: AnalysedClip | None,
        progress=gr.Progress(),  # noqa: B008 (how gradio injects a progress tracker)
    ) -> Iterator[tuple]:
        """Analyse the clip if it is new (a new clip starts a new chat), then answer."""
        question = (question or "").strip() or DEFAULT_QUESTION
        history = list(history or [])
        if not video:
            yield self._refusal(question, history, NO_CLIP, clip)
            return
        source = original_of(video)
        key = clip_key(source)
        if clip is None or clip.key != key:
            history = []
            try:
                evidence = self.assistant.analyse(source, progress=lambda f, message: progress(f, desc=message))
            except AssistantError as error:
                yield self._refusal(question, history, f"Could not analyse this clip: {error}", None)
                return
            except Exception as error:  # a bug: logged with its traceback, shown as a readable line
                yield self._refusal(question, history, unexpected(error, "analysing this clip"), None)
                return
            clip = AnalysedClip(key, evidence)
        yield from self._stream(question, history, clip)

    def follow_up(self, question: str, history: list | None, clip: AnalysedClip | None) -> Iterator[tuple]:
        """Another question about the clip already analysed."""
        question = (question or "").strip() or DEFAULT_QUESTION
        if clip is None:
            yield self._refusal(question, list(history or []), NO_CLIP, None)
            return
        yield from self._stream(question, list(history or []), clip)

    # -- layout ---------------------------------------------------------------------------------
    def render(self) -> None:
        top_k = self.assistant.settings.top_k
        with gr.Row(equal_height=False):
            with gr.Column(scale=6):
                video = gr.Video(sources=["upload", "webcam"], label="Clip", height=260, elem_id="clip")
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=600,
                    placeholder="Upload a clip and press **Ask**. The answer streams here, with its sources.",
                    buttons=["copy", "copy_all"],
                    elem_id="chat",
                )
                with gr.Row():
                    question = gr.Textbox(
                        value=DEFAULT_QUESTION,
                        placeholder=FOLLOW_UP_PLACEHOLDER,
                        label="Question",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            with gr.Column(scale=5):
                verdict = gr.Markdown(label="Verdict", elem_id="verdict")
                labels = gr.Label(
                    label="Top activities (classifier and similar clips, fused)",
                    num_top_classes=top_k,
                    show_heading=False,
                    elem_id="labels",
                )
                gallery = gr.Gallery(
                    label="Most similar known clips (best-matching frame · similarity)",
                    columns=4,
                    height="auto",
                    object_fit="cover",
                    allow_preview=True,
                    elem_id="neighbours",
                )
                with gr.Accordion("Knowledge-base passages used", open=True):
                    passages = gr.Markdown(label="KB passages", elem_id="passages")
                timeline = gr.Dataframe(
                    headers=evidence_view.TIMELINE_HEADERS,
                    label="Timeline of a long clip",
                    visible=False,
                    interactive=False,
                )
        clip = gr.State(None)
        ExplainView(self.assistant).render(video, clip)
        outputs = [chatbot, clip, question, verdict, labels, gallery, passages, timeline]

        gr.on([video.upload, video.stop_recording], self.new_clip, video, [video, *outputs], api_visibility="private")
        video.clear(self.reset, None, outputs, api_visibility="private", queue=False)
        gr.on(
            [ask_button.click, question.submit],
            self.ask,
            [video, question, chatbot, clip],
            outputs,
            api_name="ask",
            show_progress_on=[chatbot],
        )
        chatbot.option_select(selected_value, None, question, api_visibility="private", queue=False).then(
            self.follow_up, [question, chatbot, clip], outputs, api_name="follow_up", show_progress_on=[chatbot]
        )
