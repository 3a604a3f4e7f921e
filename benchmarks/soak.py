"""Soak and load: N concurrent gradio_client users ask the running app about good, odd and damaged
clips while example clips are added, for a chosen time; one table row a minute.

The app is started as its own process (``python app.py``, offline answerer) so that its memory is
the app's alone: the row shows its resident memory (VmRSS) next to the minute's answers per
second, latency percentiles and errors. An error is a request that raised, an answer that says
something went wrong (a bug), or a refusal of a clip that is not damaged; a damaged clip may be
answered (with its damage note) or refused in one line, both correct. Example clips are added to
the library every ``--add-every`` seconds through ``/add_examples``, so answers run while the
index changes under them.

The clips: the four synthetic motions (good), a clip of two activities back to back and a
checkerboard unlike any class (odd), and the seeded damaged corpus of ``testkit.fuzz`` (damaged).
The data directory is the tests' synthetic assistant (a cnn3d on the motions, its frame index
and KB), built once under ``--work-dir`` and reused by later runs.

    python -m benchmarks.soak [--users 8] [--minutes 30] [--add-every 30] [--work-dir var/soak]

Targets (issue 24): 0 errors, p95 within 3x p50, app memory flat after warm-up (growth < 50 MB
over the last 20 minutes of a 30-minute run).
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from gradio_client import Client, handle_file

from testkit.assistant_data import (
    build_data_dir,
    prepare_motion_data,
    train_cnn3d,
    write_query_clip,
    write_query_clips,
)
from testkit.fuzz import make_fuzz_corpus
from testkit.loopback import free_port
from testkit.synthetic import MOTIONS, motion_frames, write_opencv

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is happening in this clip?"
# The synthetic assistant answers 2 s windows of 8 frames (what the tests' data directory was built for).
APP_ENV = {"ACTIVITY_WINDOW_S": "2.0", "ACTIVITY_NUM_FRAMES": "8", "ACTIVITY_DEVICE": "cpu"}


@dataclass
class Clip:
    path: Path
    kind: str  # good, odd, damaged


@dataclass
class Tally:
    """Everything the users and the adder record, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (finished at, seconds)
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    added: int = 0

    def record(self, finished: float, seconds: float, outcome: str, error: str | None = None) -> None:
        with self.lock:
            self.latencies.append((finished, seconds))
            self.outcomes[outcome] += 1
            if error:
                self.errors.append(error)


def build_assistant(work: Path) -> Path:
    """The tests' synthetic assistant (data dir + KB) under ``work``, built once."""
    data = work / "assistant"
    if (data / "var").is_dir():
        return data
    staging = work / "building"
    shutil.rmtree(staging, ignore_errors=True)
    prepared = prepare_motion_data(staging / "motion")
    run = train_cnn3d(prepared, staging / "runs" / "cnn3d_motion")
    build_data_dir(staging / "assistant", prepared, run)
    os.replace(staging / "assistant", data)
    return data


def write_clips(work: Path) -> list[Clip]:
    folder = work / "clips"
    shutil.rmtree(folder, ignore_errors=True)
    clips = [Clip(path, "good") for path in write_query_clips(folder / "good").values()]
    (folder / "odd").mkdir()
    clips.append(Clip(write_query_clip(folder / "odd" / "fall_then_rotate.avi", ("Fall", "Rotate"), seed=77), "odd"))
    grid = (np.indices((64, 64)).sum(axis=0) // 8) % 2
    board = np.stack([np.where(np.roll(grid, t, axis=1)[..., None], 220, 20) for t in range(24)]).astype(np.uint8)
    clips.append(Clip(write_opencv(folder / "odd" / "checkerboard.avi", np.repeat(board, 3, axis=3)), "odd"))
    clips += [Clip(case.path, "damaged") for case in make_fuzz_corpus(folder / "damaged", seed=0)]
    return clips


def start_app(data: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "app.py", "--data-dir", str(data / "var"), "--kb-dir", str(data / "kb")]
    command += ["--port", str(port), "--llm", "offline"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **APP_ENV}, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the app exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.kill()
    raise SystemExit(f"the app did not answer within 300 s; see {log}")


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def chat_text(chat: list) -> str:
    content = chat[-1]["content"]
    return content if isinstance(content, str) else "\n".join(part.get("text", "") for part in content)


def user(url: str, clips: list[Clip], seed: int, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(seed)
    client = Client(url, verbose=False)
    while not stop.is_set():
        clip = rng.choice(clips)
        started = time.perf_counter()
        try:
            chat, *_ = client.predict(handle_file(str(clip.path)), QUESTION, [], api_name="/ask")
            text = chat_text(chat)
        except Exception as error:  # noqa: BLE001 (every failure is counted, whatever raised it)
            tally.record(time.perf_counter(), time.perf_counter() - started, "error", f"{clip.path.name}: {error!r}")
            continue
        finished = time.perf_counter()
        if "Something went wrong" in text or (text.startswith("⚠️") and clip.kind != "damaged"):
            tally.record(finished, finished - started, "error", f"{clip.path.name}: {text[:200]}")
        else:
            tally.record(finished, finished - started, "refused" if text.startswith("⚠️") else "answered")


def adder(url: str, work: Path, every_s: float, stop: threading.Event, tally: Tally) -> None:
    """A labelled example clip every ``every_s`` seconds: the index changes while users ask."""
    client = Client(url, verbose=False)
    rng = np.random.default_rng(99)
    folder = work / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    while not stop.wait(every_s):
        label = MOTIONS[tally.added % len(MOTIONS)]
        path = write_opencv(folder / f"extra_{label}_{tally.added}.avi", motion_frames(label, rng, (64, 64), 24))
        try:
            result, *_ = client.predict([handle_file(str(path))], label, api_name="/add_examples")
            ok = result.startswith("✔")
        except Exception as error:  # noqa: BLE001
            result, ok = repr(error), False
        with tally.lock:
            tally.added += 1
            if not ok:
                tally.errors.append(f"add_examples: {result[:200]}")
                tally.outcomes["error"] += 1


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0],) * 3 if values else (float("nan"),) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--add-every", type=float, default=30.0, help="seconds between added example clips")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds per table row")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "soak")
    args = parser.parse_args()

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"building (or reusing) the synthetic assistant in {work} ...", flush=True)
    data = build_assistant(work)
    run_data = work / "run"  # a fresh copy per run: the examples added here do not pile up across runs
    shutil.rmtree(run_data, ignore_errors=True)
    shutil.copytree(data, run_data, symlinks=True)
    clips = write_clips(work)
    kinds = Counter(clip.kind for clip in clips)
    port = free_port()
    app = start_app(run_data, port, work / "app.log")
    url = f"http://127.0.0.1:{port}/"
    tally, stop = Tally(), threading.Event()
    print(
        f"app pid {app.pid} on {url}; {args.users} users; clips: {dict(kinds)}; "
        f"an example clip added every {args.add_every:.0f} s; {args.minutes:g} min",
        flush=True,
    )
    threads = [threading.Thread(target=user, args=(url, clips, n, stop, tally), daemon=True) for n in range(args.users)]
    threads.append(threading.Thread(target=adder, args=(url, work, args.add_every, stop, tally), daemon=True))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    print(f"{'min':>5} {'answers/s':>9} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6} {'answered':>8} {'refused':>7} "
          f"{'errors':>6} {'added':>5} {'app MB':>7}", flush=True)  # fmt: skip
    rows, last = [], started
    try:
        while time.perf_counter() - started < args.minutes * 60:
            time.sleep(max(0.0, last + args.report_every - time.perf_counter()))
            now = time.perf_counter()
            with tally.lock:
                window = [seconds for at, seconds in tally.latencies if last <= at < now]
                outcomes, added = Counter(tally.outcomes), tally.added
            p50, p95, p99 = percentiles(window)
            memory = resident_mb(app.pid)
            rows.append((now - started, memory))
            print(
                f"{(now - started) / 60:5.1f} {len(window) / (now - last):9.2f} {p50:6.2f} {p95:6.2f} {p99:6.2f} "
                f"{outcomes['answered']:8d} {outcomes['refused']:7d} {outcomes['error']:6d} {added:5d} {memory:7.0f}",
                flush=True,
            )
            last = now
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        app.terminate()
        app.wait(timeout=30)
    elapsed = time.perf_counter() - started
    all_latencies = [seconds for _, seconds in tally.latencies]
    p50, p95, p99 = percentiles(all_latencies)
    print(f"\n{len(all_latencies)} requests in {elapsed / 60:.1f} min: {len(all_latencies) / elapsed:.2f}/s; "
          f"p50 {p50:.2f} s, p95 {p95:.2f} s ({p95 / p50:.1f}x p50), p99 {p99:.2f} s; "
          f"{dict(tally.outcomes)}; {tally.added} example clips added")  # fmt: skip
    if rows:
        tail = [memory for at, memory in rows if at >= elapsed - 20 * 60] if elapsed > 25 * 60 else None
        window = tail or [memory for _, memory in rows[len(rows) // 3 :]]
        span = "last 20 min" if tail else "after the first third"
        print(f"app memory: {rows[0][1]:.0f} MB at the first row, {rows[-1][1]:.0f} MB at the last; "
              f"{span}: {min(window):.0f}-{max(window):.0f} MB (growth {window[-1] - window[0]:+.0f} MB)")  # fmt: skip
    for error in tally.errors[:20]:
        print("error:", error)


if __name__ == "__main__":
    main()
