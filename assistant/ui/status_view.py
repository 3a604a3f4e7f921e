"""What is built and what is missing, as markdown: the Library tab and the banner above the tabs.

A part that is missing is listed with the exact command that builds it (with this
installation's paths), plus the one command that builds everything from a folder of clips.
"""

from pathlib import Path

from assistant.service import Assistant, AssistantStatus
from core.errors import ArtifactError
from training.runs import METRICS, read_json

SETUP_COMMAND = "python -m assistant setup --source <folder of labelled clips>"


def run_metrics(checkpoint: str | None) -> dict:
    """metrics.json of the run that holds ``checkpoint`` (empty when it has none or is unreadable)."""
    if not checkpoint:
        return {}
    try:
        return read_json(Path(checkpoint).parent / METRICS) or {}
    except ArtifactError:
        return {}


def kb_chunks(assistant: Assistant) -> int | None:
    kb = assistant.resources.kb
    return kb.passage_count() if kb is not None else None


def _names(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _classifier_row(status: AssistantStatus) -> str:
    if not status.checkpoint:
        return "| classifier | ✖ not trained |"
    metrics = run_metrics(status.checkpoint)
    accuracy = metrics.get("best_val_acc")
    score = f" · val accuracy {accuracy:.1%}" if isinstance(accuracy, int | float) and accuracy >= 0 else ""
    return (
        f"| classifier | ✔ `{status.model}` · {len(status.classes)} classes ({_names(status.classes)}){score}"
        f"<br>`{status.checkpoint}` |"
    )


def _index_row(status: AssistantStatus) -> str:
    if not status.index_dir:
        return "| frame index | ✖ not built |"
    return (
        f"| frame index | ✔ {status.indexed_frames} frames of {status.indexed_clips} clips · encoder "
        f"`{status.encoder}` · labels: {_names(status.index_labels)} |"
    )


def _kb_row(status: AssistantStatus, chunks: int | None) -> str:
    if not status.kb_dir:
        return "| knowledge base | ✖ not available |"
    return f"| knowledge base | ✔ {len(status.kb_labels)} activities · {chunks} passages · `{status.kb_dir}` |"


def status_markdown(status: AssistantStatus, chunks: int | None) -> str:
    fusion = status.fusion
    fusion_text = (
        f"calibrated: classifier weight {fusion.classifier_weight:.1f}, unknown below {fusion.unknown_threshold:.2f}"
        if fusion.calibrated
        else f"defaults (classifier weight {fusion.classifier_weight:.1f}), not calibrated"
    )
    lines = [
        "| part | state |",
        "|---|---|",
        _classifier_row(status),
        _index_row(status),
        _kb_row(status, chunks),
        f"| answer writer | {status.llm} |",
        f"| fusion | {fusion_text} |",
    ]
    lines += missing_markdown(status)
    if status.llm_note:
        lines += ["", status.llm_note]
    if status.notes:
        lines += ["", "**Notes**", *(f"- {note}" for note in status.notes)]
    return "\n".join(lines)


def missing_markdown(status: AssistantStatus) -> list[str]:
    if not status.missing:
        return []
    lines = [
        "",
        "**Missing parts.** Build everything from a folder of labelled clips (one sub-folder per activity) "
        f"with `{SETUP_COMMAND}` (or the setup button below), or each part on its own:",
    ]
    for part in status.missing:
        lines += [f"- **{part.name}**: {part.reason}", f"  `{part.fix}`"]
    return lines


def banner_markdown(status: AssistantStatus) -> str:
    """Shown above the tabs only while something is missing."""
    if not status.missing:
        return ""
    names = ", ".join(part.name for part in status.missing)
    return (
        f"⚠️ **Not everything is built yet** ({names}); answers use what is there. Run `{SETUP_COMMAND}` "
        "once, or see the **Library** tab for the exact commands."
    )
