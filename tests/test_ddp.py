"""Data-parallel training: 2 CPU ranks (gloo) learn like one process, resume exactly, fail fast.

Ranks are real processes started the way users start them (``torchrun ... -m training train``)
on a free loopback port; a rank killed mid-run must end the run with a readable error within
the collective timeout, never hang.
"""

import csv
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from testkit.loopback import free_port
from testkit.torchrun import COLLECTIVE_TIMEOUT_S, ROOT, RUN_TIMEOUT_S, hand_started_rank_env, torchrun
from training.data.frame_cache import FrameCache
from training.distributed import ProcessGroup, ShardSampler
from training.evaluate.evaluation import evaluate
from training.models.checkpoint import load_classifier

# Slow: torchrun runs of two ranks; `make check` leaves it out, `make test` runs it.
pytestmark = pytest.mark.slow

TIMING_COLUMNS = {"epoch_time_s", "train_clips_per_s"}


def train_ranks(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node N -m training train ARGS --no-progress``."""
    return torchrun("training", ["train", *args, "--no-progress"], nproc)


def _history(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open() as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)]


# -- sampler ------------------------------------------------------------------------------------


def test_shards_split_an_epoch_between_ranks_and_keep_classes_balanced():
    labels = [0] * 37 + [1] * 6  # 43 items, heavily imbalanced, not a multiple of the world size
    ranks = [ProcessGroup(rank=r, world_size=2) for r in range(2)]

    train = [list(ShardSampler(labels, g, seed=5, shuffle=True)) for g in ranks]
    assert [len(s) for s in train] == [22, 22]  # padded: both ranks take the same number of steps
    assert set(train[0] + train[1]) == set(range(43))
    assert train == [list(ShardSampler(labels, g, seed=5, shuffle=True)) for g in ranks]  # same seed, same split
    assert train != [list(ShardSampler(labels, g, seed=6, shuffle=True)) for g in ranks]

    evaluation = [list(ShardSampler(labels, g, seed=0, shuffle=False, pad=False)) for g in ranks]
    assert sorted(evaluation[0] + evaluation[1]) == list(range(43))  # every item exactly once

    drawn = Counter(
        labels[i]
        for seed in range(20)
        for group in ranks
        for i in ShardSampler(labels, group, seed=seed, shuffle=True, balanced=True)
    )
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6  # minority class drawn as often as the majority


# -- training under torchrun ---------------------------------------------------------------------


def test_two_ranks_learn_as_well_as_one_and_save_a_plain_checkpoint(motion_prepared, cnn3d_motion_run, tmp_path):
    # The single-process reference is testkit.assistant_data.train_cnn3d: batch 8, 20 epochs.
    # Two ranks of batch 4 make the same global batch of 8.
    result = train_ranks(
        ["--model", "cnn3d", "--data", str(motion_prepared), "--out", str(tmp_path), "--run-name", "ddp"]
        + ["--epochs", "20", "--batch-size", "4", "--lr", "5e-4", "--crop-size", "28", "--patience", "0"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "ddp"
    assert result.stdout.count("best val accuracy") == 1  # rank 0 alone reports
    assert [row["epoch"] for row in _history(run_dir)] == [str(e) for e in range(1, 21)]

    one = evaluate(cnn3d_motion_run, motion_prepared, "test", progress=False)["video_level"]["accuracy"]
    two = evaluate(run_dir, motion_prepared, "test", progress=False)["video_level"]["accuracy"]
    assert two >= 0.85 and abs(two - one) <= 0.1, f"2 ranks {two:.2f} vs 1 process {one:.2f}"

    # The checkpoint is the bare model's: same keys as a single-process one, no DDP "module." prefix.
    ddp_state = torch.load(run_dir / "checkpoint.pt", weights_only=True)["state_dict"]
    plain_state = torch.load(cnn3d_motion_run / "checkpoint.pt", weights_only=True)["state_dict"]
    assert list(ddp_state) == list(plain_state)
    assert load_classifier(run_dir / "checkpoint.pt").classes == FrameCache(motion_prepared).classes
    # Figures are all-reduced: clips seen are both ranks' shares together (padded to an even split).
    train_clips = len(FrameCache(motion_prepared).rows("train"))
    state = torch.load(run_dir / "last.pt", weights_only=True)["training_state"]["state"]
    assert state["clips_seen"] == 20 * (train_clips + train_clips % 2)
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_done"] == 20


def test_resumed_two_rank_run_matches_an_uninterrupted_one(prepared_synthetic, tmp_path):
    common = ["--model", "cnn3d", "--data", str(prepared_synthetic), "--out", str(tmp_path), "--crop-size", "16"]
    common += ["--patience", "0", "--seed", "3", "--scheduler", "plateau", "--batch-size", "4", "--balanced"]
    stopped = train_ranks([*common, "--run-name", "stopped", "--epochs", "2"])
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    resumed = train_ranks(["--out", str(tmp_path / "stopped"), "--resume", "--epochs", "3"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = train_ranks([*common, "--run-name", "straight", "--epochs", "3"])
    assert straight.returncode == 0, straight.stderr[-3000:]

    assert [row["epoch"] for row in _history(tmp_path / "stopped")] == ["1", "2", "3"]
    assert _history(tmp_path / "stopped") == _history(tmp_path / "straight")
    a = torch.load(tmp_path / "stopped" / "last.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_rank_refused_on_rank_0_stops_every_rank_with_the_same_message(prepared_synthetic, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "args.json").write_text("{}")
    result = train_ranks(["--model", "cnn3d", "--data", str(prepared_synthetic), "--out", str(tmp_path / "taken")])
    assert result.returncode != 0
    assert result.stderr.count("already holds a run") == 2  # both ranks print it and exit; none hangs


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_lost_rank_ends_the_run_with_a_clear_error_within_the_timeout(prepared_synthetic, tmp_path, sig):
    """Ranks started without torchrun's agent (as on a second node): only the timeout can save rank 0."""
    port = str(free_port())
    command = [sys.executable, "-m", "training", "train", "--model", "cnn3d", "--data", str(prepared_synthetic)]
    command += ["--out", str(tmp_path), "--run-name", "run", "--crop-size", "16", "--epochs", "50", "--no-progress"]
    ranks = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=hand_started_rank_env(r, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (tmp_path / "run" / "history.csv").exists():  # training has run an epoch
            assert time.monotonic() < deadline and ranks[0].poll() is None, ranks[0].communicate()[1][-3000:]
            time.sleep(0.2)
        ranks[1].send_signal(sig)
        lost_at = time.monotonic()
        _, stderr = ranks[0].communicate(timeout=COLLECTIVE_TIMEOUT_S + 60)
        waited = time.monotonic() - lost_at
    finally:
        for process in ranks:
            process.kill()
            process.communicate()
    assert ranks[0].returncode == 1, stderr[-3000:]
    assert "error: rank 0 of 2 stopped" in stderr and "Another rank probably died or hung" in stderr
    assert waited < COLLECTIVE_TIMEOUT_S + 60
