"""How the assistant does on real footage: few-shot recognition and open-set "unknown".

Runs the product's own paths on a folder laid out like ``../shared/real-clips``: one
sub-folder per activity (``<Label>/*.mp4``) and ``_other/`` for clips of other activities.

A throwaway library is built with the Library tab's path (``add_example_clips``): every in-class
video is cut into ``--segments`` consecutive parts, and each part is added as an example clip
of its activity. On top of it, optionally, the frame index, classifier and calibration of an
existing data directory (``--data-dir``), e.g. one made by ``python -m assistant setup``.
Every question goes through ``gather_evidence``, the path every answer takes:

- few-shot, other moment: each part is asked with itself left out of the library (the other
  parts of its video stay: another moment of the same recording, a 1-shot example);
- few-shot, other video (strict leave-one-out): each whole video is asked with all of its parts
  left out; only activities with another video in the library can be named;
- open set: every ``_other/`` clip is asked against the full library.

Printed: accuracy (the verdict's label, "unknown" counts as wrong), the unknown rate on in-class
and on other clips, the AUROC of each score the "unknown" decision reads (fused confidence and
best-neighbour similarity; in-class "other moment" parts against ``_other/`` clips), and every
clip's verdict. With ``--data-dir`` the questions are asked twice: retrieval only and fused.
The figures are for checking design choices; with a set this small, never tune a constant to them.

    python benchmarks/real.py [--clips ../shared/real-clips] [--data-dir var] [--segments 2]
"""

import argparse
import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.analysis.evidence import Evidence  # noqa: E402
from assistant.analysis.gather import gather_evidence  # noqa: E402
from assistant.library.example_clips import add_example_clips  # noqa: E402
from assistant.library.resources import Resources  # noqa: E402
from core.settings import Settings  # noqa: E402
from indexing.encoders import get_encoder  # noqa: E402
from indexing.frame_index import FrameIndex, FrameSampling, open_frame_index  # noqa: E402
from indexing.index_types import choose_index_type  # noqa: E402
from training.data.sources.types import VIDEO_SUFFIXES  # noqa: E402

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "real-clips"
OTHER = "_other"
# Long edge of the re-encoded parts: enough for the 128-224 px the encoders read, and quick to decode.
PART_LONG_EDGE = 480


@dataclass(frozen=True)
class Asked:
    """One question and what the evidence said."""

    setting: str
    name: str
    truth: str | None  # None for clips of other activities
    label: str | None  # the verdict; None when "unknown"
    top: str | None  # the fused leader, even when the verdict is "unknown"
    confidence: float
    best_neighbour: float | None

    @property
    def correct(self) -> bool:
        return self.truth is not None and self.label == self.truth


def videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def cut_parts(video: Path, label: str, parts: int, out: Path) -> list[Path]:
    """Write ``parts`` consecutive pieces of ``video`` (MJPEG AVI, long edge <= PART_LONG_EDGE)."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while capture.grab():
        frame = capture.retrieve()[1]
        scale = PART_LONG_EDGE / max(frame.shape[:2])
        if scale < 1:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(frame)
    capture.release()
    if len(frames) < parts:
        raise SystemExit(f"{video} has only {len(frames)} frames; it cannot be cut into {parts} parts")
    paths = []
    for n, chunk in enumerate(np.array_split(np.arange(len(frames)), parts), start=1):
        path = out / label / f"{video.stem}__part{n}of{parts}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
        for i in chunk:
            writer.write(frames[i])
        writer.release()
        paths.append(path)
    return paths


def empty_library(settings: Settings, encoder_name: str) -> None:
    """A saved frame index with nothing in it, sampled like ``assistant setup`` samples."""
    encoder = get_encoder(encoder_name)
    sampling = FrameSampling(per_clip=8, size=settings.frame_size, keep_aspect=False)
    no_vectors = np.empty((0, encoder.dim), dtype=np.float32)
    FrameIndex.create(settings.index_dir, encoder, choose_index_type("flat", 0), no_vectors, sampling=sampling).save()


def ask(
    setting: str,
    name: str,
    truth: str | None,
    path: Path,
    resources: Resources,
    settings: Settings,
    leave_out: Sequence[str],
) -> Asked:
    """Ask about ``path`` with ``leave_out`` clips removed from a fresh, unsaved copy of the library."""
    index, encoder = open_frame_index(settings.index_dir)
    for clip_id in leave_out:
        index.remove(clip_id)
    evidence: Evidence = gather_evidence(path, dataclasses.replace(resources, index=index, encoder=encoder), settings)
    retrieval = evidence.retrieval
    return Asked(
        setting=setting,
        name=name,
        truth=truth,
        label=None if evidence.verdict.is_unknown else evidence.verdict.label,
        top=evidence.fused[0].label if evidence.fused else None,
        confidence=evidence.verdict.confidence,
        best_neighbour=retrieval.best_score if retrieval else None,
    )


def auroc(known: list[float | None], unknown: list[float | None]) -> float | None:
    """How well a score ranks in-class questions above other-activity ones (0.5: not at all)."""
    pairs = [(s, 1) for s in known if s is not None] + [(s, 0) for s in unknown if s is not None]
    if len({y for _, y in pairs}) < 2:
        return None
    return float(roc_auc_score([y for _, y in pairs], [s for s, _ in pairs]))


def summary(mode: str, asked: list[Asked]) -> list[str]:
    moment = [a for a in asked if a.setting == "other moment"]
    strict = [a for a in asked if a.setting == "other video"]
    other = [a for a in asked if a.setting == "open set"]
    answerable = [a for a in strict if sum(b.truth == a.truth for b in strict) > 1]

    def rate(items: list[Asked], test) -> str:
        return f"{sum(map(test, items))}/{len(items)} = {np.mean([test(a) for a in items]):.0%}" if items else "n/a"

    def area(score) -> str:
        value = auroc([score(a) for a in moment], [score(a) for a in other])
        return "n/a" if value is None else f"{value:.3f}"

    return [
        f"## {mode}",
        f"few-shot, other moment: accuracy {rate(moment, lambda a: a.correct)}, "
        f"top-1 (ignoring unknown) {rate(moment, lambda a: a.top == a.truth)}, "
        f"unknown {rate(moment, lambda a: a.label is None)}",
        f"few-shot, other video (strict LOO): accuracy {rate(strict, lambda a: a.correct)}; "
        f"on activities with another video in the library {rate(answerable, lambda a: a.correct)}; "
        f"unknown {rate(strict, lambda a: a.label is None)}",
        f"open set (_other): unknown {rate(other, lambda a: a.label is None)}",
        f"AUROC in-class vs other: fused confidence {area(lambda a: a.confidence)}, "
        f"best-neighbour similarity {area(lambda a: a.best_neighbour)}",
    ]


def verdict_table(asked: list[Asked]) -> list[str]:
    lines = ["| setting | clip | truth | verdict | fused leader | confidence | best neighbour |"]
    lines.append("|---|---|---|---|---|---|---|")
    for a in asked:
        best = "" if a.best_neighbour is None else f"{a.best_neighbour:.3f}"
        mark = "ok" if a.correct else ("" if a.truth is None else "WRONG")
        lines.append(
            f"| {a.setting} | {a.name} | {a.truth or '-'} | {a.label or 'unknown'} {mark} | {a.top} "
            f"| {a.confidence:.2f} | {best} |"
        )
    return lines


def run(clips: Path, data_dir: Path | None, encoder_name: str, segments: int, root: Path) -> list[str]:
    settings = Settings(data_dir=root / "var", kb_dir=root / "no-kb", llm_provider="offline")
    if data_dir is not None:
        source = Settings(data_dir=data_dir, kb_dir=root / "no-kb", llm_provider="offline")
        resources = Resources.load(source)
        if resources.index is None:
            raise SystemExit(f"{data_dir} has no frame index; build one with `python -m assistant setup`")
        shutil.copytree(source.index_dir, settings.index_dir)
    else:
        empty_library(settings, encoder_name)
        resources = Resources.load(settings)
    in_class = {folder.name: videos_in(folder) for folder in sorted(clips.iterdir()) if folder.is_dir()}
    others = in_class.pop(OTHER, [])
    if not in_class:
        raise SystemExit(f"{clips} has no <Label>/ folders of videos")
    parts: dict[Path, list[tuple[Path, str]]] = {}
    for label, videos in in_class.items():
        for video in videos:
            paths = cut_parts(video, label, segments, root / "parts")
            parts[video] = list(zip(paths, add_example_clips(settings, paths, label), strict=True))
    library = f"{sum(len(p) for p in parts.values())} example parts of {len(parts)} videos, {len(in_class)} activities"
    modes = {"retrieval only": dataclasses.replace(resources, classifier=None, checkpoint=None)}
    if resources.classifier is not None:
        modes[f"fused with {resources.checkpoint}"] = resources
    fusion = resources.fusion
    lines = [
        f"clips: {clips}; library: {library}"
        + (f" on top of {data_dir}'s index" if data_dir else "")
        + f"; encoder {open_frame_index(settings.index_dir)[1].name}",
        f"fusion: {'calibrated' if fusion.calibrated else 'default'} (weight {fusion.classifier_weight:.2f}, "
        f"unknown below confidence {fusion.unknown_threshold:.2f} or similarity {fusion.min_neighbour_score})",
    ]
    for mode, mode_resources in modes.items():
        asked = []
        for video, pieces in parts.items():
            label = video.parent.name
            for path, clip_id in pieces:
                asked.append(ask("other moment", path.name, label, path, mode_resources, settings, [clip_id]))
            ids = [clip_id for _, clip_id in pieces]
            asked.append(ask("other video", video.name, label, video, mode_resources, settings, ids))
        asked += [ask("open set", video.name, None, video, mode_resources, settings, []) for video in others]
        lines += ["", *summary(mode, asked), "", *verdict_table(asked)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of <Label>/ and _other/ videos")
    parser.add_argument("--data-dir", type=Path, help="data directory whose index, classifier and calibration to use")
    parser.add_argument("--encoder", default="effnet_lite0", help="frame encoder when there is no --data-dir")
    parser.add_argument("--segments", type=int, default=2, help="example parts cut from each in-class video")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.clips.is_dir():
        raise SystemExit(
            f"No clips folder at {args.clips}. Pass --clips DIR: one <Label>/ folder of videos per activity "
            "and an _other/ folder of clips of other activities."
        )
    if args.segments < 2:
        raise SystemExit("--segments must be at least 2: each part is asked with the others as its examples")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        print("\n".join(run(args.clips, args.data_dir, args.encoder, args.segments, Path(folder))))


if __name__ == "__main__":
    main()
