"""The small-machine deployment, measured: the edge install's size, the bundle's, and answers from it.

1. A library to bundle: ``--data-dir/--kb-dir`` of one built by ``setup``, else the test suite's
   synthetic motion library (a cnn3d trained on 4 motions, its frame index, the KB; ~3 minutes).
2. ``python -m assistant bundle`` into a temporary folder: size per part.
3. A fresh venv with ``pip install '.[edge]'`` (or ``--venv`` one made before): size on disk, the
   largest packages, and the full install's venv (``.venv``) for comparison.
4. The same clips asked three ways, each in its own process like a user's CLI run: the full install
   with torch, the full install with ONNX Runtime, and the edge venv from the bundle. Per clip, the
   evidence's own total (decode to KB passages); per run, the process's wall time (start-up included).

    python -m benchmarks.edge [--data-dir var --kb-dir kb] [--venv /tmp/edge-venv] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from assistant.jobs.bundle_writer import write_bundle
from core.settings import Settings
from testkit.edge_venv import PROJECT, installed_sizes, make_edge_venv, venv_bytes

MB = 1e6


def synthetic_library(root: Path) -> tuple[Settings, Path]:
    """The tests' motion library (trained cnn3d, index, KB, calibration) and a folder of query clips."""
    from assistant.jobs.calibrate import calibrate, save_result
    from assistant.runtime.resources import Resources
    from testkit.assistant_data import build_data_dir, prepare_motion_data, train_cnn3d, write_query_clips

    prepared = prepare_motion_data(root / "motion")
    run = train_cnn3d(prepared, root / "runs" / "cnn3d_motion")
    settings = build_data_dir(root / "assistant", prepared, run)
    resources = Resources.load(settings)
    save_result(calibrate(prepared, resources, split="val"), resources)
    clips = root / "queries"
    write_query_clips(clips)
    return settings, clips


def ask_run(python: Path, global_args: list[str], clips: Path, cwd: Path) -> tuple[float, list[float], list[str]]:
    """(process wall s, per-clip evidence total ms, verdicts) of one ``ask FOLDER --json`` process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["ACTIVITY_LLM_PROVIDER"] = "offline"
    started = time.perf_counter()
    result = subprocess.run(
        [str(python), "-m", "assistant", *global_args, "ask", str(clips), "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - started
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    totals = [line["evidence"]["timings_ms"]["total"] for line in lines]
    return wall, totals, [str(line["evidence"]["verdict"]["label"]) for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--kb-dir", type=Path)
    parser.add_argument("--clips", type=Path, help="folder of clips to ask about (default: the synthetic queries)")
    parser.add_argument("--venv", type=Path, help="an edge venv made before (default: make a fresh one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.data_dir:
            settings, clips = Settings(data_dir=args.data_dir, kb_dir=args.kb_dir or Path("kb")), args.clips
        else:
            settings, clips = synthetic_library(root / "library")
        clips = args.clips or clips
        started = time.perf_counter()
        record = write_bundle(settings, root / "bundle", int8=args.int8)
        print(f"bundle: {record['bytes'] / MB:.1f} MB in {time.perf_counter() - started:.0f} s")
        parts: dict[str, int] = {}
        for name, facts in record["files"].items():
            parts[name.split("/")[0]] = parts.get(name.split("/")[0], 0) + facts["bytes"]
        for name, size in sorted(parts.items(), key=lambda item: -item[1]):
            print(f"  {name:24s} {size / MB:7.1f} MB")

        venv = args.venv
        if venv is None:
            started = time.perf_counter()
            venv = root / "edge-venv"
            make_edge_venv(venv, root)
            print(f"edge venv made in {time.perf_counter() - started:.0f} s")
        full = PROJECT / ".venv"
        print(
            f"edge install: {venv_bytes(venv) / MB:.0f} MB on disk; "
            f"full install (.venv): {venv_bytes(full) / MB:.0f} MB"
        )
        for name, size in list(installed_sizes(venv).items())[:14]:
            print(f"  {name:40s} {size / MB:6.1f} MB")

        ways = {
            "full install, torch": (
                full / "bin" / "python",
                ["--data-dir", str(settings.data_dir), "--runtime", "torch"],
            ),
            "full install, ONNX": (
                full / "bin" / "python",
                ["--data-dir", str(settings.data_dir), "--runtime", "onnx"],
            ),
            "edge venv, bundle": (venv / "bin" / "python", ["--bundle", str(root / "bundle")]),
        }
        results: dict[str, list[tuple[float, list[float], list[str]]]] = {name: [] for name in ways}
        for _ in range(args.repeats):  # interleaved: a busy machine's load falls on all three alike
            for name, (python, global_args) in ways.items():
                if "full" in name:
                    global_args = [*global_args, "--kb-dir", str(settings.kb_dir)]
                results[name].append(ask_run(python, global_args, clips, root))
        print("| install | process wall p50 (s) | evidence total p50 per clip (ms) | verdicts |")
        print("|---|---|---|---|")
        for name, runs in results.items():
            walls = statistics.median(run[0] for run in runs)
            totals = statistics.median(total for run in runs for total in run[1])
            print(f"| {name} | {walls:.1f} | {totals:.0f} | {', '.join(runs[0][2])} |")


if __name__ == "__main__":
    main()
