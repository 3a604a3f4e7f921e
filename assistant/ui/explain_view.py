"""The Explain control under the answer: key frames with the heat blended over them, and when it mattered.

A user picks the class to explain among the answer's top-k ("why not Diving?") and presses
Explain; the classifier's Grad-CAM is computed then, never during the answer. The explanation
joins the clip's evidence in the session, so a follow-up such as "what did you look at?" is
answered from what the user sees. The same handler is the named API endpoint ``/explain``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd

from assistant.evidence import Evidence, default_label
from assistant.service import Assistant
from assistant.ui.messages import unexpected
from assistant.ui.playable import original_of
from core.cli import FULL_INSTALL
from core.errors import AssistantError

if TYPE_CHECKING:  # Grad-CAM runs on torch: imported when Explain is pressed (the full install)
    from assistant.analysis.explain import Explanation

CURVE_COLUMNS = ["time (s)", "importance"]
NO_VIDEO = "Upload a video and press **Ask** first; then Explain shows what the classifier looked at."


def label_choices(evidence: Evidence | None, classes: list[str]) -> list[str]:
    """The answer's top-k labels the classifier can explain, best first (all its classes before an answer)."""
    if evidence is None or evidence.classifier is None:
        return list(classes)
    return [item.label for item in evidence.classifier.top_k if item.label in classes]


def summary_markdown(explanation: Explanation) -> str:
    part = explanation.part
    moments = ", ".join(f"{m.time_s:.1f} s ({m.region})" for m in part.moments)
    return (
        f"**{part.label}** ({part.probability:.0%}) · {part.method} of `{part.model}`. "
        f"The decision leaned most on **{part.peak_s:.1f} s**; key moments: {moments}. "
        f"The heat covers {part.coverage:.0%} of the pictures."
    )


def curve_frame(explanation: Explanation) -> pd.DataFrame:
    return pd.DataFrame(explanation.part.curve, columns=CURVE_COLUMNS)


class ExplainView:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def _classes(self) -> list[str]:
        classifier = self.assistant.resources.classifier
        return list(classifier.classes) if classifier is not None else []

    def choices(self, clip: Any) -> gr.Dropdown:
        """The dropdown for the current answer: its top-k, the explained (or verdict) label selected."""
        evidence = clip.evidence if clip is not None else None
        classes = self._classes()
        latest = evidence.explanations[-1].label if evidence is not None and evidence.explanations else None
        return gr.Dropdown(choices=label_choices(evidence, classes), value=latest or default_label(evidence, classes))

    def explain(self, video: str | None, label: str | None, clip: Any) -> tuple:
        """(overlays, curve, summary, clip with the explanation added to its evidence)."""
        if not video:
            gr.Warning(NO_VIDEO)
            return [], None, f"⚠️ {NO_VIDEO}", clip
        source = original_of(video)
        evidence = clip.evidence if clip is not None and clip.evidence.source_path == str(source) else None
        try:
            from assistant.analysis.explain import explain_video
            from assistant.analysis.explain_images import key_frame_images
        except ModuleNotFoundError as error:
            message = f"Explain needs the full install ({error.name} is not installed here): {FULL_INSTALL}"
            gr.Warning(message)
            return [], None, f"⚠️ {message}", clip
        try:
            explanation = explain_video(
                source, self.assistant.snapshot(), self.assistant.settings, label=label or None, evidence=evidence
            )
        except AssistantError as error:
            gr.Warning(str(error))
            return [], None, f"⚠️ {error}", clip
        except Exception as error:  # a bug: logged with its traceback, shown as a readable line
            message = unexpected(error, "explaining the answer")
            gr.Warning(message)
            return [], None, f"⚠️ {message}", clip
        if evidence is not None:
            updated = evidence.model_copy(update={"explanations": [*evidence.explanations, explanation.part]})
            clip = dataclasses.replace(clip, evidence=updated)
        return key_frame_images(explanation), curve_frame(explanation), summary_markdown(explanation), clip

    def render(self, video: gr.Video, clip: gr.State) -> None:
        """Mounted under the answer; ``clip`` is the chat's session state (its evidence gains the explanation)."""
        with gr.Accordion("Explain: what did the classifier look at?", open=False, elem_id="explain") as accordion:
            with gr.Row():
                label = gr.Dropdown(
                    choices=self._classes(),
                    label="Class to explain",
                    allow_custom_value=True,  # the handler checks against the current classifier
                    scale=3,
                    elem_id="explain-label",
                )
                button = gr.Button("Explain", scale=1, elem_id="explain-button")
            summary = gr.Markdown(label="Explanation", elem_id="explain-summary")
            frames = gr.Gallery(
                label="Key frames, heat = what the classifier looked at",
                columns=4,
                height="auto",
                object_fit="contain",
                elem_id="explain-frames",
            )
            curve = gr.LinePlot(
                x=CURVE_COLUMNS[0],
                y=CURVE_COLUMNS[1],
                label="Importance over time",
                y_lim=[0, 1.05],
                elem_id="explain-curve",
            )
        # Refreshed on opening, not on ``clip.change``: a change listener makes gradio hash the state,
        # and the clip's evidence is not hashable.
        accordion.expand(self.choices, clip, label, api_visibility="private", queue=False)
        button.click(self.explain, [video, label, clip], [frames, curve, summary, clip], api_name="explain")
