"""How the assistant does on real footage nobody trained on: named right, or honestly "unknown".

Runs the product's own paths on a folder laid out like ``../shared/real-clips``: one sub-folder
per activity (``<Label>/*.mp4``) and ``_other/`` for clips of other activities. Every question
goes through ``gather_evidence``, the path every answer takes, and is asked of a library that
holds nothing of the question's own recording (strict leave-one-recording-out):

- few-shot: an empty data folder, every in-class video added whole as an example clip (what
  the Library tab's upload does). Each in-class video is asked with its own clip removed; when
  its activity has another recording left it should be named, otherwise its activity is now
  unknown to the library and "unknown" is right. Every ``_other/`` clip is asked of the full
  library and should be "unknown".
- trained (``--data-dir``, e.g. made by ``python -m assistant setup``): the same, on top of that
  folder's classifier, index and calibration.

Each question is judged twice in one run: ``before``, the decision without the library's
open-set floors (what few-shot libraries shipped with: confidence only; for a trained folder
also the old best-neighbour floor if its calibration file still records one), and ``after``,
the shipped decision (floors measured on the leave-one-out library itself). Printed per mode:
in-class accuracy, unknown rate on in-class clips, unknown rate on other activities, and the
AUROC of the scores the decision reads (in-class questions whose activity is in the library
against other-activity questions). With a set this small, never tune a constant to it.

    python -m benchmarks.real [--clips ../shared/real-clips] [--data-dir var] [--frame-size 128]
"""

import argparse
import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from assistant.analysis.gather import gather_evidence
from assistant.evidence import Evidence, FusionSettings
from assistant.fusion import decide, open_set_score
from assistant.jobs.example_clips import add_example_clips
from assistant.runtime.calibration import calibration_path, with_open_set_floors
from assistant.runtime.open_set import calibrate_open_set
from assistant.runtime.resources import Resources
from core.labels import NEGATIVE_FOLDERS
from core.settings import Settings
from indexing.frames.frame_index import open_frame_index
from training.data.sources.types import VIDEO_SUFFIXES

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "real-clips"


@dataclass(frozen=True)
class Asked:
    """One question and what each decision said."""

    name: str
    truth: str | None  # the activity, when the library (left out) still holds another recording of it
    before: str | None  # verdicts; None when "unknown"
    after: str | None
    confidence: float
    support: float | None  # the leader's support
    score: float | None  # the leader's open-set score: support + lead over the next activity
    reason: str

    @property
    def in_class(self) -> bool:
        return self.truth is not None


def videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def old_neighbour_floor(settings: Settings, resources: Resources) -> float | None:
    """The best-neighbour floor a calibration file made before the open-set floors may still record."""
    path = calibration_path(resources.checkpoint, settings.index_dir)
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["fusion"].get("min_neighbour_score")


def ask(name: str, truth: str | None, path: Path, base: Resources, leave_out: list[str], old_floor) -> Asked:
    """Ask about ``path`` of a fresh, unsaved copy of the library without ``leave_out``."""
    settings = base.settings
    index, encoder = open_frame_index(settings.index_dir)
    for clip_id in leave_out:
        index.remove(clip_id)
    fusion = with_open_set_floors(base.fusion, calibrate_open_set(index))
    resources = dataclasses.replace(base, index=index, encoder=encoder, fusion=fusion)
    evidence: Evidence = gather_evidence(path, resources, settings)
    support = {s.label: s.probability for s in evidence.retrieval.support} if evidence.retrieval else {}
    leader = evidence.fused[0].label if evidence.fused else None
    before_fusion = FusionSettings(**{**base.fusion.model_dump(), "open_set_floor": None})
    before = decide(evidence.fused, None, before_fusion)
    if old_floor is not None and not before.is_unknown and evidence.retrieval.best_score < old_floor:
        before = before.model_copy(update={"label": None, "is_unknown": True})
    return Asked(
        name=name,
        truth=truth,
        before=before.label,
        after=evidence.verdict.label,
        confidence=evidence.verdict.confidence,
        support=support.get(leader),
        score=open_set_score(support, leader) if leader in support else None,
        reason=evidence.verdict.reason,
    )


def auroc(asked: list[Asked], score) -> str:
    """How well ``score`` ranks in-class questions above other-activity ones (0.5: not at all)."""
    pairs = [(score(a), a.in_class) for a in asked if score(a) is not None]
    if len({known for _, known in pairs}) < 2:
        return "n/a"
    return f"{roc_auc_score([known for _, known in pairs], [s for s, _ in pairs]):.3f}"


def rate(outcomes: list[bool]) -> str:
    return f"{sum(outcomes)}/{len(outcomes)} = {np.mean(outcomes):.0%}" if outcomes else "n/a"


def summary(mode: str, asked: list[Asked]) -> list[str]:
    known = [a for a in asked if a.in_class]
    other = [a for a in asked if not a.in_class]
    lines = [f"## {mode}: {len(known)} in-class questions, {len(other)} of activities outside the library"]
    for when in ("before", "after"):
        right = [getattr(a, when) == a.truth for a in known]
        known_unknown = [getattr(a, when) is None for a in known]
        other_unknown = [getattr(a, when) is None for a in other]
        lines.append(
            f"{when}: in-class named right {rate(right)}, in-class unknown {rate(known_unknown)}, "
            f"other activities unknown {rate(other_unknown)}"
        )
    lines.append(
        f"AUROC in-class vs other: fused confidence {auroc(asked, lambda a: a.confidence)}, "
        f"leader's support {auroc(asked, lambda a: a.support)}, open-set score {auroc(asked, lambda a: a.score)}"
    )
    return lines


def verdict_table(asked: list[Asked]) -> list[str]:
    lines = [
        "| clip | truth | before | after | confidence | support | open-set score | why (after) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in asked:
        mark = "" if not a.in_class else (" ok" if a.after == a.truth else " WRONG")
        support = "" if a.support is None else f"{a.support:.3f}"
        score = "" if a.score is None else f"{a.score:.3f}"
        lines.append(
            f"| {a.name} | {a.truth or '-'} | {a.before or 'unknown'} | {a.after or 'unknown'}{mark} "
            f"| {a.confidence:.2f} | {support} | {score} | {a.reason} |"
        )
    return lines


def run_mode(mode: str, clips: Path, settings: Settings) -> list[str]:
    """Add the in-class videos as examples to ``settings``' data folder, then ask every question."""
    in_class = {
        folder.name: videos_in(folder)
        for folder in sorted(clips.iterdir())
        if folder.is_dir() and folder.name not in NEGATIVE_FOLDERS
    }
    if not in_class:
        raise SystemExit(f"{clips} has no <Label>/ folders of videos")
    others = [video for name in NEGATIVE_FOLDERS if (clips / name).is_dir() for video in videos_in(clips / name)]
    added = {
        video: add_example_clips(settings, [video], label)[0] for label, videos in in_class.items() for video in videos
    }
    base = Resources.load(settings)
    old_floor = old_neighbour_floor(settings, base)
    asked = []
    for video, clip_id in added.items():
        label = video.parent.name
        others_left = len(in_class[label]) > 1
        asked.append(ask(video.name, label if others_left else None, video, base, [clip_id], old_floor))
    asked += [ask(video.name, None, video, base, [], old_floor) for video in others]
    fusion = base.fusion
    header = [
        f"library: {len(added)} example videos of {len(in_class)} activities; encoder {base.encoder.name}; "
        f"confidence threshold {fusion.unknown_threshold:.2f} ({'calibrated' if fusion.calibrated else 'default'})"
        + (f"; old best-neighbour floor {old_floor:.2f}" if old_floor is not None else ""),
        f"full library: {fusion.open_set}",
    ]
    return [*header, "", *summary(mode, asked), "", *verdict_table(asked)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of <Label>/ and _other/ videos")
    parser.add_argument("--data-dir", type=Path, help="a data folder made by `assistant setup`: adds the trained mode")
    parser.add_argument("--frame-size", type=int, default=Settings().frame_size, help="few-shot library frame size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.clips.is_dir():
        raise SystemExit(
            f"No clips folder at {args.clips}. Pass --clips DIR: one <Label>/ folder of videos per activity "
            "and an _other/ folder of clips of other activities."
        )
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        few_shot = Settings(
            data_dir=root / "few-shot", kb_dir=root / "no-kb", llm_provider="offline", frame_size=args.frame_size
        )
        print("\n".join(run_mode("few-shot", args.clips, few_shot)))
        if args.data_dir is not None:
            shutil.copytree(args.data_dir, root / "trained")
            trained = Settings(data_dir=root / "trained", kb_dir=root / "no-kb", llm_provider="offline")
            print("\n" + "\n".join(run_mode(f"trained ({args.data_dir})", args.clips, trained)))


if __name__ == "__main__":
    main()
