"""Live: can the assistant keep up with a camera? Windows/s, label-change latency, CPU cores and memory.

For each resolution a synthetic 30 fps stream whose activity changes every ``--segment`` seconds
(the motions of ``testkit.synthetic``, MPEG-4 in MPEG-TS) is served over HTTP on loopback by
imageio-ffmpeg's ffmpeg, as an IP camera would serve it (``--file`` plays the file instead, at
its own speed, without the server's encoding cost). The engine watches it with the models of
``--data-dir`` (its active checkpoint, index and fusion: the app's), or by default with the default model's
shape and cost (``default_model_dir``). Printed per resolution:

- windows/s analysed and frames skipped (the engine skips rather than queues),
- latency p95: from a window's newest frame to its verdict on the timeline, for every window and
  for the windows that changed the label (the issue's target: within 1.0 s p95),
- CPU cores used by this process (CPU time / wall time; includes decoding, excludes the server),
- memory: resident set after warm-up and at the end; ``--long 1800`` watches one stream that long
  and prints the growth after warm-up (target < 50 MB over 30 minutes).

    python -m benchmarks.live [--data-dir var --kb-dir kb] [--seconds 30] [--sizes 320x240,640x480,1280x720]
    python -m benchmarks.live --sizes 640x480 --long 1800
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from assistant.live.watch_session import live_engine
from assistant.service import Assistant
from core.settings import Settings
from indexing.encoders.pretrained import shared_backbone_encoder
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.assistant_data import write_kb
from testkit.stream_server import serve_stream
from testkit.synthetic import MOTIONS, make_synthetic_dataset, motion_frames, write_ffmpeg
from testkit.untrained_run import make_untrained_run
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source

ROOT = Path(__file__).resolve().parents[1]


FPS = 30


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def default_model_dir(folder: Path) -> Settings:
    """A data directory with the default model's shape and cost: ``setup``'s effnet_frames (frozen
    EfficientNet-Lite0, 8 frames of 128 px) and a frame index sharing its backbone. The head is
    untrained (its cost is the trained one's; its verdicts mean nothing), so no training is waited for."""
    settings = Settings(data_dir=folder / "var", kb_dir=folder / "kb", llm_provider="offline")
    if not (settings.index_dir).exists():
        videos = make_synthetic_dataset(folder / "videos", per_class=4, size=(128, 128))
        prepared = folder / "prepared"
        prepare_dataset(load_source(videos, "folder", seed=0), prepared, PrepareConfig(8, 128, 1), workers=1)
        make_untrained_run(settings.runs_dir / "effnet_frames", prepared, "effnet_frames", freeze_backbone=True)
        encoder = get_encoder(shared_backbone_encoder("effnet_frames", 128))
        build_frame_index(prepared, settings.index_dir, encoder, frames_per_clip=8)
        write_kb(settings.kb_dir)
    return settings


def make_stream_clip(folder: Path, width: int, height: int, segment_s: float, segments: int) -> Path:
    """Alternating motions, ``segment_s`` each, at 30 fps (looped seamlessly by the server)."""
    path = folder / f"live_{width}x{height}.mp4"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    cycle = int(FPS * 2)  # a motion is drawn over 2 s and repeated
    parts = []
    for n in range(segments):
        motion = MOTIONS[n % 2 * 2]  # Oscillate, Rotate: both loop seamlessly
        parts.append(np.tile(motion_frames(motion, rng, (height, width), cycle), (int(segment_s / 2), 1, 1, 1)))
    return write_ffmpeg(path, np.concatenate(parts), fps=FPS, codec_args=("-c:v", "mpeg4", "-q:v", "4"))


def watch(assistant: Assistant, clip: Path, seconds: float, use_file: bool, sample_every_s: float = 10.0) -> dict:
    server = None
    source = str(clip)
    if not use_file:
        server, source = serve_stream(clip)
    try:
        engine = live_engine(assistant, source, clip_memory_s=0)
        started_wall, started_cpu = time.monotonic(), cpu_s()
        engine.start()
        warm_up = min(20.0, seconds / 3)
        time.sleep(warm_up)
        warm_rss, warm_cpu, warm_wall = rss_mb(), cpu_s(), time.monotonic()
        samples = [(warm_up, warm_rss)]
        while time.monotonic() - started_wall < seconds and not engine.done.is_set():
            time.sleep(min(sample_every_s, max(0.1, seconds - (time.monotonic() - started_wall))))
            samples.append((time.monotonic() - started_wall, rss_mb()))
        engine.stop()
        wall, cpu = time.monotonic() - warm_wall, cpu_s() - warm_cpu
    finally:
        if server is not None:
            server.kill()
            server.wait()
    stats = engine.stats.summary()
    return {
        "windows_per_s": round(engine.stats.windows / (time.monotonic() - started_wall), 3),
        "fps_in": stats["fps"],
        "skipped_frames": stats["skipped_frames"],
        "frames": stats["frames"],
        "analysis_s_mean": stats["analysis_s_mean"],
        "latency_s_p95": stats["latency_s_p95"],
        "change_latency_s_p95": stats["change_latency_s_p95"],
        "label_changes": len(engine.stats.change_latency_s),
        "cpu_cores": round(cpu / wall, 2),
        "rss_mb_after_warm_up": round(warm_rss, 1),
        "rss_mb_end": round(rss_mb(), 1),
        "rss_growth_mb": round(rss_mb() - warm_rss, 1),
        "rss_samples": [(round(t), round(m, 1)) for t, m in samples],
        "segments": len(engine.timeline.snapshot()[0]),
        "started_cpu_s": round(cpu_s() - started_cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir", type=Path, help="a built data directory (its active model); default: --default-model"
    )
    parser.add_argument("--kb-dir", type=Path, default=None)
    parser.add_argument("--sizes", default="320x240,640x480,1280x720")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--segment", type=float, default=6.0, help="seconds of each activity in the stream")
    parser.add_argument("--long", type=float, help="watch one stream this many seconds and report memory growth")
    parser.add_argument("--file", action="store_true", help="play the file at its own speed instead of HTTP")
    parser.add_argument("--work-dir", type=Path, default=Path("var/bench-live"))
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.data_dir:
        overrides = {"llm_provider": "offline", "data_dir": args.data_dir}
        settings = Settings(**overrides, **({"kb_dir": args.kb_dir} if args.kb_dir else {}))
    else:
        settings = default_model_dir(args.work_dir / "default-model")
    assistant = Assistant(settings)
    seconds = args.long or args.seconds
    print(f"model: {assistant.resources.names}, window {settings.window_s} s, {os.cpu_count()} CPUs", flush=True)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        clip = make_stream_clip(args.work_dir, width, height, args.segment, 4)
        result = watch(assistant, clip, seconds, args.file)
        print(json.dumps({"size": size, "seconds": seconds, **result}), flush=True)


if __name__ == "__main__":
    main()
