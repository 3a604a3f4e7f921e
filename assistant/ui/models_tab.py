"""The Models tab: the active checkpoint, every trained run with its metrics and plots, switching.

Switching writes ``<data>/active_checkpoint.txt`` (shared with the CLI) and reloads the
assistant, so the next answer uses the chosen model.
"""

from pathlib import Path

import gradio as gr
from PIL import Image

from assistant.runtime.active_checkpoint import find_active_checkpoint, set_active_checkpoint
from assistant.service import Assistant
from assistant.ui.messages import done, refused
from assistant.ui.status_view import banner_markdown
from core.errors import AssistantError
from training.evaluate.compare import compare_runs
from training.runs import CHECKPOINT, CURVES, METRICS, finished_runs, read_json

EVAL_SPLITS = ("test", "val")


def evaluation(run: Path) -> tuple[str | None, dict]:
    """(split, eval record) of the run's test evaluation, else its val evaluation."""
    for split in EVAL_SPLITS:
        record = read_json(run / f"eval_{split}.json")
        if record:
            return split, record
    return None, {}


def _image(path: Path) -> Image.Image | None:
    """Plots are handed over as pixels, so the runs folder (with its checkpoints) is never served."""
    if not path.is_file():
        return None
    with Image.open(path) as image:
        return image.convert("RGB")


def _percent(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) and value >= 0 else "–"


class ModelsTab:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings

    def runs(self) -> dict[str, Path]:
        return {run.name: run for run in finished_runs(self.settings.runs_dir)}

    # -- handlers -------------------------------------------------------------------------------
    def active_markdown(self) -> str:
        try:
            active = find_active_checkpoint(self.settings)
        except AssistantError as error:
            return f"⚠️ {error}"
        if active is None:
            return (
                f"No trained model in `{self.settings.runs_dir}` yet. Train one with "
                "`python -m assistant setup --source <folder of labelled clips>`."
            )
        status = self.assistant.status()
        return f"**Active:** `{active.parent.name}` · `{status.model}` · {len(status.classes)} classes · `{active}`"

    def table(self) -> str:
        """The ``python -m training compare`` table of every finished run."""
        finished = [run for run in self.runs().values() if (run / METRICS).is_file()]
        if not finished:
            return "*No finished training runs yet.*"
        try:
            return compare_runs(finished, split=EVAL_SPLITS[0])
        except AssistantError as error:
            return f"⚠️ {error}"

    def details(self, name: str | None) -> tuple[str, Image.Image | None, Image.Image | None]:
        run = self.runs().get(name or "")
        if run is None:
            return "*Choose a run.*", None, None
        metrics = read_json(run / METRICS) or {}
        split, record = evaluation(run)
        lines = [
            f"**{name}** · `{metrics.get('model', '?')}` · best val accuracy {_percent(metrics.get('best_val_acc'))} "
            f"(epoch {metrics.get('best_epoch', '?')} of {metrics.get('epochs_done', '?')}) · "
            f"{metrics.get('trainable_params', '?')} trainable of {metrics.get('params', '?')} parameters",
        ]
        if split:
            video = record.get("video_level", {})
            worst = ", ".join(f"{p['true']}→{p['predicted']} ({p['count']})" for p in video.get("worst_confused", []))
            lines.append(
                f"{split} split, per video: accuracy {_percent(video.get('accuracy'))}, "
                f"macro F1 {_percent(video.get('macro_f1'))}" + (f"; most confused: {worst}" if worst else "")
            )
        else:
            lines.append(
                f"Not evaluated yet: `python -m training evaluate --checkpoint {run}` writes its scores and "
                "confusion matrix."
            )
        confusion = _image(run / f"confusion_{split}.png") if split else None
        return "\n\n".join(lines), confusion, _image(run / CURVES)

    def refresh(self, selected: str | None = None) -> tuple[str, str, gr.Dropdown]:
        names = list(self.runs())
        value = selected if selected in names else (names[0] if names else None)
        return self.active_markdown(), self.table(), gr.Dropdown(choices=names, value=value)

    def activate(self, name: str) -> tuple[str, str, str]:
        run = self.runs().get(name or "")
        if run is None:
            return refused(f"{name!r} is not a trained run in {self.settings.runs_dir}."), self.active_markdown(), ""
        try:
            set_active_checkpoint(self.settings, run / CHECKPOINT)
            self.assistant.reload()
        except AssistantError as error:
            return refused(error), self.active_markdown(), banner_markdown(self.assistant.status())
        status = self.assistant.status()
        message = done(f"Now answering with `{name}`.")
        return message, self.active_markdown(), banner_markdown(status)

    # -- layout ---------------------------------------------------------------------------------
    def render(self, tab: gr.Tab, banner: gr.Markdown) -> None:
        """Filled when ``tab`` is opened, so runs trained meanwhile show up."""
        active = gr.Markdown(label="Active model", elem_id="active-model")
        gr.Markdown("**Trained runs** (newest first; accuracy on the test split when evaluated)")
        table = gr.Markdown(label="Runs", elem_id="runs-table")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                # Custom values pass: runs trained after start-up are chosen too; ``activate`` checks the name.
                run = gr.Dropdown(choices=list(self.runs()), label="Run", allow_custom_value=True, elem_id="run")
                with gr.Row():
                    use_button = gr.Button("Use this model", variant="primary")
                    refresh_button = gr.Button("Refresh")
                message = gr.Markdown(label="Result")
                details = gr.Markdown(label="Run details")
            with gr.Column(scale=3):
                confusion = gr.Image(label="Confusion matrix", interactive=False, height=380)
        curves = gr.Image(label="Training curves", interactive=False, height=260)

        refresh_button.click(self.refresh, run, [active, table, run], api_visibility="private")
        run.change(self.details, run, [details, confusion, curves], api_visibility="private")
        use_button.click(self.activate, run, [message, active, banner], api_name="set_active").then(
            self.refresh, run, [active, table, run], api_visibility="private"
        )
        tab.select(self.refresh, run, [active, table, run], api_visibility="private")
