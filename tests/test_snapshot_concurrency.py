"""Answers stay whole while the library changes under them (issue 11).

Eight threads ask about clips while a ninth switches the active checkpoint between two models
with different class names, rebuilds the frame index and adds example clips, 20 changes in all.
Every answer must succeed, and each must be internally consistent: its classifier labels all
come from the checkpoint the evidence names, and its neighbours from one index build.
"""

import threading
import time
from pathlib import Path

import pytest
import torch

from assistant.jobs.example_clips import add_example_clips
from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.service import Assistant
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.assistant_data import INDEX_ENCODER, build_data_dir
from training.runs import CHECKPOINT

# Slow (about a minute): `make check` leaves it out, `make test` runs it.
pytestmark = pytest.mark.slow

ASKERS = 8
CHANGES = 20


def renamed_copy(checkpoint: Path, run_dir: Path, prefix: str) -> tuple[Path, list[str]]:
    """The same weights under other class names: a second model whose labels cannot be mistaken."""
    record = torch.load(checkpoint, map_location="cpu", weights_only=True)
    record["classes"] = [f"{prefix}{name}" for name in record["classes"]]
    run_dir.mkdir(parents=True)
    torch.save(record, run_dir / CHECKPOINT)
    return run_dir / CHECKPOINT, record["classes"]


def test_answers_survive_checkpoint_switches_index_rebuilds_and_added_examples(
    tmp_path, motion_prepared, cnn3d_motion_run, query_clips
):
    settings = build_data_dir(tmp_path, motion_prepared, cnn3d_motion_run)
    original = settings.runs_dir / cnn3d_motion_run.name / CHECKPOINT
    renamed, renamed_classes = renamed_copy(original, settings.runs_dir / "renamed", "Other")
    classes_of = {
        str(original.resolve()): set(torch.load(original, weights_only=True)["classes"]),
        str(renamed.resolve()): set(renamed_classes),
    }
    set_active_checkpoint(settings, original)
    assistant = Assistant(settings)
    clips = list(query_clips.values())

    answers, failures = [], []
    done = threading.Event()

    def ask(worker: int) -> None:
        n = worker
        while not done.is_set():
            try:
                evidence, text = assistant.ask(clips[n % len(clips)])
                answers.append((evidence, text))
            except Exception as error:  # the test's point: any failure at all is recorded
                failures.append(f"{type(error).__name__}: {error}")
            n += 1

    def change_library() -> None:
        encoder = get_encoder(INDEX_ENCODER)
        for n in range(CHANGES):
            kind = n % 3
            if kind == 0:
                set_active_checkpoint(settings, renamed if n % 2 == 0 else original)
            elif kind == 1:
                add_example_clips(settings, [clips[n % len(clips)]], f"Example{n}")
            else:
                build_frame_index(motion_prepared, settings.index_dir, encoder, frames_per_clip=2, splits=("val",))
            time.sleep(0.2)
        done.set()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(ASKERS)]
    writer = threading.Thread(target=change_library)
    for thread in [*threads, writer]:
        thread.start()
    writer.join(timeout=600)
    done.set()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert len(answers) >= ASKERS * 2
    used = set()
    for evidence, text in answers:
        part = evidence.classifier
        assert part is not None and text.strip()
        assert evidence.used.checkpoint == part.checkpoint_path
        labels = {score.label for score in part.top_k}
        assert labels <= classes_of[str(Path(part.checkpoint_path).resolve())], (part.checkpoint_path, labels)
        assert sum(score.probability for score in part.top_k) <= 1.0 + 1e-6
        used.add(str(Path(part.checkpoint_path).resolve()))
    # Both models answered: the switches really happened while questions were being asked.
    assert used == set(classes_of)
