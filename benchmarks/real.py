"""How the assistant does on real footage nobody trained on: named right, or honestly "unknown".

Runs the product's own answer path (``gather_evidence``) on a folder laid out like
``../shared/real-clips``: one sub-folder per activity (``<Label>/*.mp4``) and ``_other/`` for
clips of other activities. Every question is asked of a library that holds nothing of the
question's own recording. Two protocols, each run for every candidate open-set representation
in the same process (the shipped one and the ones it was chosen against):

- held-out: an empty data folder, every in-class video added whole as an example clip (what the
  Library tab's upload does); each in-class video asked with its own clip removed (named right
  when its activity has another recording left, else "unknown" is right); every ``_other/`` clip
  asked of the full library ("unknown" is right).
- leave-one-activity-out: each activity of the library in turn removed whole and its clips asked
  as clips of another activity ("unknown" is right), beside the in-class questions of the
  activities left (each recording asked with itself removed, where its activity has another).

A candidate is how the open-set support pools a clip's frames (``segment_support``): per frame,
over 1-4 temporal segments, 3 segments with the changes between them (always, or unless the library's own
recordings reject more with them: shipped, ``open_set_pooling``), 3 segments
of frames centred (and whitened) on the library a question is asked of, or (on EfficientNet-Lite0
features) 3 segments of the frames' ImageNet class-score profiles.
Each library's floor is measured on the library itself, as the product does. Printed per protocol
and candidate: in-class named right, other activities unknown, each with a bootstrap 95 % interval
over the questions, the AUROC of the open-set score (in-class vs other) and of the score over its library's floor
(what each answer is decided by; questions asked of different libraries are only comparable this way), then one
row per activity.
With a set this small the intervals are wide: never tune a constant to it.

    python -m benchmarks.real [--clips ../shared/real-clips] [--data-dir var] [--frame-size 128]
"""

import argparse
import dataclasses
import functools
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from assistant.analysis.gather import gather_evidence
from assistant.fusion import open_set_score
from assistant.jobs.example_clips import add_example_clips
from assistant.runtime.calibration import with_open_set_floors
from assistant.runtime.open_set import OpenSetCalibration
from assistant.runtime.open_set_pooling import library_with_floor, open_set_library
from assistant.runtime.resources import Resources
from assistant.runtime.segment_support import (
    SEGMENTS,
    SegmentLibrary,
    in_one_space,
    segment_means,
    segments_and_changes,
)
from core.labels import NEGATIVE_FOLDERS
from core.settings import Settings
from indexing.encoders.base import l2_normalise
from indexing.frames.frame_index import FrameIndex, open_frame_index
from training.data.sources.types import VIDEO_SUFFIXES
from training.models.zoo.effnet_frames import shipped_weights_path

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "real-clips"


@functools.cache
def imagenet_classifier() -> np.ndarray:
    """EfficientNet-Lite0's ImageNet classifier weights (1000, 1280): the directions that tell 1000 everyday
    objects and scenes apart, installed with the encoder's weights."""
    return torch.load(shipped_weights_path(), map_location="cpu")["_fc.weight"].numpy().astype(np.float32)


def imagenet_class_segments(frames: np.ndarray, segments: int | None) -> np.ndarray:
    """Frames as their ImageNet class-score profiles (logits of the unit features, centred over the classes, unit
    length), then segment means: a generic "what is in view" prior in place of the raw feature geometry, where
    the shared "sports hall" directions weigh only as much as they tell ImageNet's classes apart."""
    scores = np.asarray(frames, dtype=np.float32) @ imagenet_classifier().T
    return segment_means(l2_normalise(scores - scores.mean(axis=1, keepdims=True)), segments)


def clip_weighted_frames(index: FrameIndex) -> np.ndarray:
    """The library's unit frame vectors, each clip's repeated so that every clip weighs the same (a long
    example video is not the library's mean on its own)."""
    by_clip: dict[str, list[int]] = defaultdict(list)
    for vector_id, record in index.records.items():
        by_clip[record.clip_id].append(vector_id)
    most = max(len(ids) for ids in by_clip.values())
    return np.concatenate([index.vectors(np.resize(sorted(ids), most)) for ids in by_clip.values()])


def centred_on(library_frames: np.ndarray) -> Callable:
    """Frames centred on the library's mean frame and renormalised before pooling (CL2N, SimpleShot: Wang et al.
    2019): the direction every clip of the library shares (the "sports hall") no longer counts as a match."""
    mean = library_frames.mean(axis=0)

    def pool(frames: np.ndarray, segments: int | None) -> np.ndarray:
        return segment_means(l2_normalise(np.asarray(frames, np.float32) - mean), segments)

    return pool


def whitened_on(library_frames: np.ndarray) -> Callable:
    """Centred, then whitened with the library frames' shrunk covariance (Ledoit-Wolf): directions along which
    the library's frames vary most (scene, lighting) weigh as much as the rest."""
    mean = library_frames.mean(axis=0)
    values, vectors = np.linalg.eigh(LedoitWolf().fit(library_frames).covariance_)
    whitening = (vectors / np.sqrt(np.maximum(values, 1e-12))).astype(np.float32)

    def pool(frames: np.ndarray, segments: int | None) -> np.ndarray:
        return segment_means(l2_normalise((np.asarray(frames, np.float32) - mean) @ whitening), segments)

    return pool


# A candidate: the library a question is asked of -> its clips pooled for the open-set support, and the floor.
Candidate = Callable[[FrameIndex], tuple[SegmentLibrary, OpenSetCalibration]]


def pooled(segments: int | None, fit: Callable[[FrameIndex], Callable]) -> Candidate:
    """Every library pooled over ``segments`` by what ``fit`` makes of it, its floor measured the same way."""
    return lambda index: library_with_floor(index, fit(index), segments)


def fitted(pool_of: Callable[[np.ndarray], Callable]) -> Callable[[FrameIndex], Callable]:
    """A pooling of one space fitted on the frames of the library a question is asked of (without its left-out
    clips)."""
    return lambda index: in_one_space(pool_of(clip_weighted_frames(index)))


def fixed(pool: Callable) -> Callable[[FrameIndex], Callable]:
    """A pooling of one space (segment means and the like) for every library."""
    return lambda index: in_one_space(pool)


def own_spaces(pool: Callable) -> Callable[[FrameIndex], Callable]:
    """A pooling that makes its own spaces (``segment_support.Pooled``), for every library."""
    return lambda index: pool


# Candidates compared in one run; segments None = per frame (shipped two releases ago).
CANDIDATES: dict[str, Candidate] = {
    "per frame": pooled(None, fixed(segment_means)),
    "1 segment": pooled(1, fixed(segment_means)),
    "2 segments": pooled(2, fixed(segment_means)),
    f"{SEGMENTS} segments (before)": pooled(SEGMENTS, fixed(segment_means)),
    "4 segments": pooled(4, fixed(segment_means)),
    f"{SEGMENTS} segments + their changes, always": pooled(SEGMENTS, own_spaces(segments_and_changes)),
    f"{SEGMENTS} segments + their changes unless the library rejects more (shipped)": open_set_library,
    f"{SEGMENTS} segments, centred on the library": pooled(SEGMENTS, fitted(centred_on)),
    f"{SEGMENTS} segments, centred and whitened on the library": pooled(SEGMENTS, fitted(whitened_on)),
}
# Only for an index of EfficientNet-Lite0 ImageNet features (the few-shot default), whose classifier it reads.
IMAGENET_CANDIDATES: dict[str, Candidate] = {
    f"{SEGMENTS} segments of ImageNet class scores": pooled(SEGMENTS, fixed(imagenet_class_segments)),
}


def candidates(encoder_name: str) -> dict[str, Candidate]:
    return CANDIDATES | (IMAGENET_CANDIDATES if encoder_name.split("@")[0].split("+")[0] == "effnet_lite0" else {})


BOOTSTRAP = 2000
RNG_SEED = 0


@dataclass(frozen=True)
class Question:
    name: str
    path: Path
    activity: str  # the folder it came from (_other for other activities)
    truth: str | None  # the activity to name, or None when "unknown" is right
    leave_out: tuple[str, ...]  # clip ids removed from the library for this question


@dataclass(frozen=True)
class Answer:
    question: Question
    named: str | None  # None: "unknown"
    score: float | None  # the leader's open-set score
    floor: float | None  # the floor its library applied (None: not applied)

    @property
    def margin(self) -> float | None:
        """The score over the library's own floor: what the decision reads, comparable across libraries."""
        return None if self.score is None else self.score - (self.floor or 0.0)


def videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def ask(question: Question, base: Resources, candidate: Candidate) -> Answer:
    """The product's answer to ``question`` from a fresh, unsaved copy of the library without its left-out clips,
    with the open-set support and its floor as ``candidate`` makes them of that library."""
    settings = base.settings
    index, encoder = open_frame_index(settings.index_dir)
    for clip_id in question.leave_out:
        index.remove(clip_id)
    library, open_set = candidate(index)
    fusion = with_open_set_floors(base.fusion, open_set)
    resources = dataclasses.replace(base, index=index, encoder=encoder, fusion=fusion, segments=library)
    evidence = gather_evidence(question.path, resources, settings)
    support = {s.label: s.probability for s in evidence.retrieval.support} if evidence.retrieval else {}
    leader = evidence.fused[0].label if evidence.fused else None
    score = open_set_score(support, leader) if leader in support else None
    return Answer(question, evidence.verdict.label, score, fusion.open_set_floor)


def interval(values: Sequence[float], statistic: Callable[[np.ndarray], float]) -> str:
    """The statistic with its bootstrap 95 % percentile interval over the questions."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return "n/a"
    rng = np.random.default_rng(RNG_SEED)
    draws = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(BOOTSTRAP)]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return f"{statistic(values):.0%} [{low:.0%}, {high:.0%}]"


def rate_with_interval(outcomes: list[bool]) -> str:
    return f"{sum(outcomes)}/{len(outcomes)} = {interval(outcomes, np.mean)}" if outcomes else "n/a"


def auroc_with_interval(answers: list[Answer], value: Callable[[Answer], float | None]) -> str:
    pairs = np.array([(a.question.truth is not None, value(a)) for a in answers if value(a) is not None], dtype=float)
    if len(pairs) == 0 or len(set(pairs[:, 0])) < 2:
        return "n/a (needs in-class and other questions)"

    def auc(rows: np.ndarray) -> float:
        return roc_auc_score(rows[:, 0], rows[:, 1]) if len(set(rows[:, 0])) == 2 else np.nan

    rng = np.random.default_rng(RNG_SEED)
    draws = [auc(pairs[rng.integers(0, len(pairs), len(pairs))]) for _ in range(BOOTSTRAP)]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return f"{auc(pairs):.2f} [{low:.2f}, {high:.2f}]"


def summary_row(name: str, answers: list[Answer]) -> str:
    known = [a for a in answers if a.question.truth is not None]
    other = [a for a in answers if a.question.truth is None]
    right = [a.named == a.question.truth for a in known]
    unknown = [a.named is None for a in other]
    aurocs = [auroc_with_interval(answers, lambda a: a.score), auroc_with_interval(answers, lambda a: a.margin)]
    return f"| {name} | {rate_with_interval(right)} | {rate_with_interval(unknown)} | {' | '.join(aurocs)} |"


def activity_rows(results: dict[str, list[Answer]]) -> list[str]:
    """Per activity the question came from: how each candidate answered its clips."""
    names = list(results)
    lines = ["| activity | questions | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    by_activity: dict[str, dict[str, list[Answer]]] = defaultdict(lambda: defaultdict(list))
    for name, answers in results.items():
        for answer in answers:
            by_activity[answer.question.activity][name].append(answer)
    for activity in sorted(by_activity):
        cells = []
        for name in names:
            answers = by_activity[activity][name]
            right = sum(a.named == a.question.truth for a in answers)
            wrong = sorted({a.named or "unknown" for a in answers if a.named != a.question.truth})
            cells.append(f"{right}/{len(answers)} right" + (f" (said {', '.join(wrong)})" if wrong else ""))
        lines.append(f"| {activity} | {len(by_activity[activity][names[0]])} | " + " | ".join(cells) + " |")
    return lines


def held_out_questions(in_class: dict[str, list[Path]], added: dict[Path, str], others: list[Path]) -> list[Question]:
    questions = []
    for label, videos in in_class.items():
        for video in videos:
            truth = label if len(videos) > 1 else None
            questions.append(Question(video.name, video, label, truth, (added[video],)))
    return questions + [Question(video.name, video, "_other", None, ()) for video in others]


def leave_one_activity_out_questions(in_class: dict[str, list[Path]], added: dict[Path, str]) -> list[Question]:
    questions = []
    for removed, videos in in_class.items():
        whole = tuple(added[v] for v in videos)
        questions += [Question(v.name, v, removed, None, whole) for v in videos]
        for label, mates in in_class.items():
            if label != removed and len(mates) > 1:
                questions += [Question(v.name, v, label, label, (*whole, added[v])) for v in mates]
    return questions


def run_mode(mode: str, clips: Path, settings: Settings) -> list[str]:
    """Add the in-class videos as examples to ``settings``' data folder, then ask every protocol's questions."""
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
    lines = [
        f"# {mode}: library of {len(added)} example videos of {len(in_class)} activities; encoder "
        f"{base.encoder.name}; confidence threshold {base.fusion.unknown_threshold:.2f} "
        f"({'calibrated' if base.fusion.calibrated else 'default'})",
        f"full library: {base.fusion.open_set}",
    ]
    protocols = {
        "held-out": held_out_questions(in_class, added, others),
        "leave-one-activity-out": leave_one_activity_out_questions(in_class, added),
    }
    compared = candidates(base.encoder.name)
    for protocol, questions in protocols.items():
        results = {name: [ask(q, base, candidate) for q in questions] for name, candidate in compared.items()}
        known = sum(q.truth is not None for q in questions)
        lines += [
            "",
            f"## {mode}, {protocol}: {known} in-class questions, {len(questions) - known} of other activities",
            "",
            "| open-set support | in-class named right | other activities unknown | AUROC in-class vs other "
            "| AUROC of score - floor |",
            "|---|---|---|---|---|",
            *(summary_row(name, answers) for name, answers in results.items()),
            "",
            *activity_rows(results),
        ]
    return lines


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
