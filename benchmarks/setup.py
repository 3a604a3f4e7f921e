"""`python -m assistant setup` on a UCF101-sized folder: each step timed, old path (pixels) vs new (cached features).

The dataset is generated once and kept (default: 10 classes x 25 groups x 5 clips of 7 s, 320x240
MPEG-4 AVI, moving content, like UCF101's ten first-release classes). Both paths run in this one
process on fresh data directories, so their ratio is fair on a shared, noisy machine. Also prints
the CPU time split (user / system) and minor page faults of each path, and a projection to all of
UCF101 (13,320 clips) from the per-clip costs.

Targets (issue 10): setup >= 4x faster end to end, head training >= 20x faster.

``--runtimes`` (issue 22) compares instead the new path with ``--runtime torch`` and with the default
``auto``, where setup exports the frozen backbone (about a second, inside the train step) and ONNX
Runtime fills the feature store and the index.

    python -m benchmarks.setup [--classes 10 --groups 25 --clips 5 --seconds 7] [--only new|old] [--runtimes]
"""

import argparse
import resource
import shutil
import time
from pathlib import Path

import numpy as np

from assistant.jobs.setup_pipeline import SetupOptions, run_setup
from core.memory import keep_freed_memory
from core.settings import Settings
from testkit.synthetic import MOTIONS, motion_frames, write_opencv

UCF101_CLIPS = 13_320
FPS = 25.0


def make_dataset(root: Path, classes: int, groups: int, clips: int, seconds: float) -> Path:
    """``root/<Class>/v_<Class>_gNN_cMM.avi``; reused when it already holds this many clips."""
    names = [f"{MOTIONS[n % len(MOTIONS)]}{n // len(MOTIONS)}" for n in range(classes)]
    wanted = classes * groups * clips
    if root.is_dir() and len(list(root.glob("*/*.avi"))) == wanted:
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for n, name in enumerate(names):
        (root / name).mkdir(parents=True)
        tint = np.array([(37 * n) % 120, (71 * n) % 120, (113 * n) % 120], dtype=np.int16)
        for group in range(1, groups + 1):
            for clip in range(1, clips + 1):
                frames = motion_frames(MOTIONS[n % len(MOTIONS)], rng, (240, 320), int(seconds * FPS))
                frames = np.clip(frames.astype(np.int16) + tint, 0, 255).astype(np.uint8)
                write_opencv(root / name / f"v_{name}_g{group:02d}_c{clip:02d}.avi", frames, fps=FPS, fourcc="XVID")
    print(f"generated {wanted} clips in {time.perf_counter() - started:.0f} s -> {root}")
    return root


def run(label: str, source: Path, work: Path, options: SetupOptions, runtime: str = "auto") -> dict:
    data_dir = work / label
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, llm_provider="offline", runtime=runtime)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = run_setup(source, settings, options)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "steps": dict(report.seconds),
        "total": time.perf_counter() - started,
        "user": after.ru_utime - before.ru_utime,
        "system": after.ru_stime - before.ru_stime,
        "minor_faults": after.ru_minflt - before.ru_minflt,
        "val": report.val_acc,
        "test": report.test_acc,
        "clips": report.clips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--groups", type=int, default=25)
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=7.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench_setup"))
    parser.add_argument("--only", choices=("old", "new"))
    parser.add_argument("--runtimes", action="store_true", help="the new path with torch, then with ONNX Runtime")
    args = parser.parse_args()
    keep_freed_memory()  # as every product command does (ACTIVITY_KEEP_FREED_MEMORY=0: off)
    source = make_dataset(args.work / "dataset", args.classes, args.groups, args.clips, args.seconds)
    if args.runtimes:
        options = SetupOptions(epochs=args.epochs)
        results = {name: run(name, source, args.work, options, runtime=name) for name in ("torch", "auto")}
    else:
        paths = {
            "old": SetupOptions(epochs=args.epochs, cached_features=False, encoder="auto"),
            "new": SetupOptions(epochs=args.epochs),
        }
        chosen = {name: opts for name, opts in paths.items() if args.only in (None, name)}
        results = {name: run(name, source, args.work, opts) for name, opts in chosen.items()}

    steps = list(dict.fromkeys(step for r in results.values() for step in r["steps"]))
    print(f"\nsetup on {args.classes * args.groups * args.clips} clips ({args.seconds:.0f} s, 320x240 XVID), 2 cores")
    print(f"{'step':<16}" + "".join(f"{name:>12}" for name in results) + ("       ratio" if len(results) == 2 else ""))
    for step in [*steps, "total"]:
        values = [r["total"] if step == "total" else r["steps"].get(step, 0.0) for r in results.values()]
        ratio = f"{values[0] / max(values[1], 1e-9):>11.1f}x" if len(values) == 2 else ""
        print(f"{step:<16}" + "".join(f"{v:>11.1f}s" for v in values) + ratio)
    for name, r in results.items():
        per_clip = r["total"] / max(r["clips"], 1)
        print(
            f"{name}: user {r['user']:.0f} s, system {r['system']:.0f} s, "
            f"{r['minor_faults'] / 1e6:.1f} M minor faults; val {r['val']:.3f}, test {r['test']:.3f}; "
            f"{per_clip:.2f} s/clip -> all of UCF101 "
            f"({UCF101_CLIPS} clips) ~{per_clip * UCF101_CLIPS / 60:.0f} min"
        )


if __name__ == "__main__":
    main()
