"""The evidence panels beside the chat: plain values for gr.Label, gr.Gallery, gr.Markdown, gr.Dataframe.

Pure functions of one ``Evidence`` object, so what the panels show is exactly what the answer
was written from, and they can be tested without a browser.
"""

from pathlib import Path

from assistant.evidence import Evidence

TIMELINE_HEADERS = ["from (s)", "to (s)", "activity", "confidence"]


def label_scores(evidence: Evidence) -> dict[str, float]:
    """The fused top-k: what the verdict was chosen from."""
    return {item.label: round(item.probability, 4) for item in evidence.fused}


def neighbour_gallery(evidence: Evidence) -> list[tuple[str, str]]:
    """(thumbnail path, "label · score") of each similar recording's best-matching frame."""
    if evidence.retrieval is None:
        return []
    return [
        (n.thumbnail, f"{n.label} · {n.score:.2f}" + (f" · and {n.near_copies} near-copies" if n.near_copies else ""))
        for n in evidence.retrieval.neighbours
        if n.thumbnail and Path(n.thumbnail).is_file()
    ]


def passages_markdown(evidence: Evidence) -> str:
    if not evidence.kb_passages:
        return "*No knowledge-base passages were used.*"
    lines = [f"- **{p.file}** › {p.section} *({p.label})*" for p in evidence.kb_passages]
    return "\n".join(lines)


def timeline_rows(evidence: Evidence) -> list[list]:
    return [
        [round(s.start_s, 1), round(s.end_s, 1), s.label or "unknown", f"{s.confidence:.0%}"] for s in evidence.timeline
    ]


def verdict_markdown(evidence: Evidence) -> str:
    """Headline verdict, what was looked at and what it took (missing parts are in the answer)."""
    verdict, video = evidence.verdict, evidence.video
    headline = f"### {verdict.label or 'Unknown activity'} · {verdict.confidence:.0%}"
    sources = []
    if evidence.classifier:
        sources.append(f"classifier `{evidence.classifier.model}` ({evidence.classifier.checkpoint_name})")
    if evidence.retrieval:
        sources.append(f"{len(evidence.retrieval.neighbours)} similar clips ({evidence.retrieval.encoder})")
    if evidence.zero_shot:
        sources.append(f"zero-shot CLIP matching ({evidence.zero_shot.model})")
    if evidence.kb_passages:
        sources.append(f"{len(evidence.kb_passages)} KB passages")
    took = sum(evidence.timings_ms.values())
    lines = [
        headline,
        verdict.reason[:1].upper() + verdict.reason[1:].rstrip(".") + ".",
        f"{evidence.media_kind} · {video.duration_s:.1f} s · {video.width}×{video.height} · "
        f"{video.frame_count} frames · analysed in {took / 1000:.1f} s",
    ]
    if sources:
        lines.append("Evidence: " + ", ".join(sources) + ".")
    return "\n\n".join(lines)
