"""Scaling-out figures: data-parallel training and sharded indexing throughput, KB search latency.

Training runs the product's own command, ``python -m training train``, in one process and under
``torchrun --nproc_per_node N`` with the same global batch (``--batch-size`` split across ranks),
and reports the training clips/s of each (epochs after the first, which warms caches up), from
the run's history.csv. On a CPU machine one process gets every core as threads and each of N
processes gets cores/N (``--threads`` fixes it, e.g. 1 to keep OpenMP from spinning on a loaded
machine); on a GPU machine pass ``--device cuda`` and the numbers are per GPU.

The indexing part runs ``python -m indexing frames`` alone and under ``torchrun`` on a hard-linked
copy of the prepared data without its feature stores (so every rank really embeds its share; with
``--keep-features`` the stores stay, vectors are read from them and writing the thumbnails is most
of the work) and reports frames indexed per second from the index manifest's build time (process
start excluded).

The KB part syncs ``kb/`` into an embedded Chroma folder and into a ``chroma run`` server on a
loopback port, then times ``KnowledgeBase.search`` (query embedding included) over 100 questions.

    python -m benchmarks.ddp                                  # synthetic motion clips, cnn3d, 1 and 2 CPU procs
    python -m benchmarks.ddp --data var/prepared --model r3d18 --device cuda --nproc 1 --batch-size 64 --skip-kb
    python -m benchmarks.ddp --data var/bench_setup/new/prepared --skip-training --skip-kb   # indexing only
    python -m benchmarks.ddp --data var/bench_setup/new/prepared --skip-training --skip-kb --keep-features
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from indexing.kb.knowledge_base import KnowledgeBase
from testkit.assistant_data import prepare_motion_data
from testkit.loopback import free_port, start_chroma_server, stop

ROOT = Path(__file__).resolve().parents[1]


QUESTIONS = (
    "how do I tell a surfer from a diver?",
    "what does a golf swing look like on video?",
    "is this a piano or a guitar?",
    "which sports happen in water?",
    "what equipment does a skydiver use?",
    "how many players are on a basketball court?",
    "what is a floor routine in gymnastics?",
    "how fast do racehorses run?",
    "what is the difference between a playground swing and a golf swing?",
    "why might a diving clip look like skydiving?",
)


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def threads_per_process(nproc: int, args: argparse.Namespace) -> int:
    return args.threads or max(1, (os.cpu_count() or 1) // nproc)


def train_clips_per_s(data: Path, out: Path, nproc: int, args: argparse.Namespace) -> float:
    """Median training clips/s over the epochs after the first, for one run with ``nproc`` ranks."""
    threads = threads_per_process(nproc, args)
    command = [*launcher(nproc), "-m", "training", "train", "--model", args.model, "--data", str(data)]
    command += ["--out", str(out), "--run-name", f"nproc{nproc}-t{threads}", "--epochs", str(args.epochs)]
    command += ["--patience", "0", "--batch-size", str(args.batch_size // nproc), "--device", args.device]
    command += ["--no-progress", "--workers", str(args.workers)]
    command += ["--crop-size", str(args.crop_size)] if args.crop_size else []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    with (out / f"nproc{nproc}-t{threads}" / "history.csv").open() as handle:
        rates = [float(row["train_clips_per_s"]) for row in csv.DictReader(handle)]
    return statistics.median(rates[1:] or rates)


def training_figures(args: argparse.Namespace, work: Path) -> None:
    data = Path(args.data) if args.data else prepare_motion_data(work / "motion")
    print(f"\n## Training throughput: {args.model}, global batch {args.batch_size}, {args.epochs} epochs, {data}")
    print(f"({load_note()}; the machine may be shared: figures vary with other load)\n")
    print("| processes | threads each | train clips/s | speed-up |")
    print("|---:|---:|---:|---:|")
    base = None
    for nproc in args.nproc:
        rate = train_clips_per_s(data, work / "runs", nproc, args)
        base = base or rate
        threads = threads_per_process(nproc, args)
        print(f"| {nproc} | {threads} | {rate:.1f} | {rate / base:.2f}x |", flush=True)


def launcher(nproc: int) -> list[str]:
    """``python`` for one process, ``python -m torch.distributed.run ...`` for several on this machine."""
    command = [sys.executable]
    if nproc > 1:
        command += ["-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1"]
        command += [f"--master_port={free_port()}"]
    return command


def index_frames_per_s(data: Path, out: Path, nproc: int, args: argparse.Namespace) -> tuple[int, float]:
    """(frames, frames indexed per second) of one ``indexing frames`` build with ``nproc`` ranks."""
    threads = threads_per_process(nproc, args)
    index_dir = out / f"index-nproc{nproc}-t{threads}"
    command = [*launcher(nproc), "-m", "indexing", "frames", "--data", str(data), "--index-dir", str(index_dir)]
    command += [
        "--encoder",
        args.index_encoder or f"effnet_lite0@{json.loads((data / 'prepare.json').read_text())['size']}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    return manifest["count"], manifest["count"] / manifest["build_time_s"]


def index_figures(args: argparse.Namespace, work: Path) -> None:
    source = Path(args.data) if args.data else prepare_motion_data(work / "motion-index")
    data = work / "prepared-without-features"
    ignore = None if args.keep_features else shutil.ignore_patterns("features")
    shutil.copytree(source, data, copy_function=os.link, ignore=ignore)
    vectors = "read from the feature store" if args.keep_features else "embedded"
    print(f"\n## Sharded indexing: `indexing frames` on {source}, vectors {vectors} ({load_note()})\n")
    print("| processes | threads each | frames | frames/s | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    base = None
    for nproc in args.nproc:
        frames, rate = index_frames_per_s(data, work, nproc, args)
        base = base or rate
        print(
            f"| {nproc} | {threads_per_process(nproc, args)} | {frames} | {rate:.1f} | {rate / base:.2f}x |", flush=True
        )


def kb_latency(kb: KnowledgeBase, queries: int) -> tuple[float, float]:
    """p50 and p95 of ``search`` in ms, after one warm-up query."""
    kb.search("warm-up", 3)
    times = []
    for n in range(queries):
        started = time.perf_counter()
        kb.search(QUESTIONS[n % len(QUESTIONS)], 5)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def kb_figures(args: argparse.Namespace, work: Path) -> None:
    print(f"\n## KB search latency over {args.queries} queries, k=5 ({load_note()})\n")
    print("| store | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    embedded = KnowledgeBase(args.kb_dir, work / "embedded")
    embedded.sync()
    print("| embedded folder | {:.1f} | {:.1f} |".format(*kb_latency(embedded, args.queries)), flush=True)
    process, url = start_chroma_server(work / "server")
    try:
        served = KnowledgeBase(args.kb_dir, work / "server_state", chroma_url=url)
        served.sync()
        print("| chroma run server (loopback) | {:.1f} | {:.1f} |".format(*kb_latency(served, args.queries)))
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="prepared dataset (default: synthetic motion clips, made here)")
    parser.add_argument("--model", default="cnn3d")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8, help="global: split across the processes")
    parser.add_argument("--crop-size", type=int, default=28)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--nproc", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    parser.add_argument("--threads", type=int, help="threads per process (default: CPUs / processes)")
    parser.add_argument("--kb-dir", type=Path, default=ROOT / "kb")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-kb", action="store_true")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--index-encoder", help="default: effnet_lite0 at the cache's frame size")
    parser.add_argument("--keep-features", action="store_true", help="index from the data's feature stores")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=ROOT / "var",
        help="where the runs and indexes go (default: var/, as the app's)",
    )
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ddp_bench_", dir=args.work_dir) as tmp:
        if not args.skip_training:
            training_figures(args, Path(tmp))
        if not args.skip_index:
            index_figures(args, Path(tmp))
        if not args.skip_kb:
            kb_figures(args, Path(tmp))


if __name__ == "__main__":
    main()
