"""A compact plain-text view of the evidence, printed by the CLI under the answer."""

from assistant.analysis.timeline import describe_timeline
from assistant.evidence import Evidence, LabelScore


def _scores(items: list[LabelScore]) -> str:
    return ", ".join(f"{item.label} {item.probability:.0%}" for item in items) or "-"


def evidence_summary(evidence: Evidence) -> str:
    verdict = evidence.verdict
    lines = [
        f"file:       {evidence.source_path} ({evidence.media_kind}, {evidence.video.duration_s:.1f} s, "
        f"{evidence.video.width}x{evidence.video.height})",
        f"verdict:    {verdict.label or 'unknown'} ({verdict.confidence:.0%}): {verdict.reason}",
        f"fused:      {_scores(evidence.fused)}",
    ]
    if evidence.classifier:
        lines.append(f"classifier: {_scores(evidence.classifier.top_k)} [{evidence.classifier.checkpoint_path}]")
    if evidence.retrieval:
        lines.append(f"retrieval:  {_scores(evidence.retrieval.vote)} [{evidence.retrieval.encoder}]")
        for n in evidence.retrieval.neighbours:
            copies = f" and {n.near_copies} near-copies" if n.near_copies else ""
            lines.append(f"  {n.score:.3f}  {n.label:<16} {n.clip_id}{copies}")
    if evidence.zero_shot:
        only = (
            f"; only source for {', '.join(evidence.zero_shot.only_labels)}" if evidence.zero_shot.only_labels else ""
        )
        lines.append(f"zero-shot:  {_scores(evidence.zero_shot.scores)} [{evidence.zero_shot.model}{only}]")
    if evidence.timeline:
        lines.append(f"timeline:   {describe_timeline(evidence.timeline)}")
    lines += [f"kb:         {p.citation} ({p.score:.2f})" for p in evidence.kb_passages]
    lines += [f"missing:    {m.name}: {m.reason} -> {m.fix}" for m in evidence.missing]
    lines.append("timings:    " + ", ".join(f"{step} {ms:.0f} ms" for step, ms in evidence.timings_ms.items()))
    return "\n".join(lines)
