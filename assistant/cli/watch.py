"""``python -m assistant watch SOURCE``: recognise activities on a webcam, a file or a stream as they happen.

python -m assistant watch 0                                   # the first webcam
python -m assistant watch clip.mp4 --json                     # a file, played at its own speed
python -m assistant watch rtsp://camera.local/stream --for 600 --record clips/ --keep unknown
python -m assistant watch http://cam/live.ts --on Swing --exec 'notify-send "swing" {clip}'

Prints one line per activity change (``--json``: one JSON object per event), reconnects a
dropped stream with backoff and says how long it was gone. Ctrl-C ends the watch cleanly with a
summary of the timeline (time per activity, skipped frames, latency).
"""

import argparse
import json
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from assistant.live.engine import LiveEngine, LiveEvent
from assistant.live.segment_actions import ActivityTrigger, SegmentRecorder
from assistant.live.source import Backoff
from assistant.live.watch_session import live_engine
from assistant.service import Assistant
from core.cli import settings_from


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    watch = subparsers.add_parser("watch", help="recognise activities live: a webcam index, a video file or a URL")
    watch.add_argument("source", help="webcam index (0), a video file (played in real time), or rtsp/http/hls URL")
    watch.add_argument("--json", action="store_true", help="one JSON object per event (segment, lost, reconnected)")
    watch.add_argument("--for", dest="duration_s", type=float, help="stop after this many seconds")
    watch.add_argument("--stride", type=float, help="seconds between analysed windows (default: 3/4 of a window)")
    watch.add_argument("--record", type=Path, help="folder to keep the clips (MP4 + JSON) of finished segments in")
    watch.add_argument(
        "--keep", action="append", default=[], help="with --record: only segments of this label (repeat; 'unknown')"
    )
    watch.add_argument("--on", dest="on_label", help="with --exec: the activity whose start runs the command")
    watch.add_argument("--exec", dest="command", help="shell command run when --on starts; {clip} and {json} filled in")
    watch.add_argument("--memory", type=float, default=60.0, help="seconds of recent video kept for clips (default 60)")
    watch.add_argument(
        "--give-up-after", type=float, help="stop when a lost stream has not come back for this many seconds"
    )
    watch.set_defaults(handler=run_watch)


def _clock(engine: LiveEngine, seconds: float) -> str:
    return datetime.fromtimestamp(engine.timeline.wall(seconds)).strftime("%H:%M:%S")


def event_line(engine: LiveEngine, event: LiveEvent) -> str | None:
    """The human line of an event, or None for events a person does not need to see."""
    if event.kind == "segment" and event.segment is not None:
        segment = event.segment
        line = f"{_clock(engine, segment.start_s)}  {segment.name:<18} {segment.confidence:4.0%}"
        if event.previous is not None:
            line += f"   (after {event.previous.name}, {event.previous.duration_s:.1f} s)"
        return line
    if event.kind == "lost":
        return f"{_clock(engine, event.t)}  -- stream lost, reconnecting"
    if event.kind == "reconnected" and event.gap is not None:
        return f"{_clock(engine, event.t)}  -- stream back after {event.gap.end_s - event.gap.start_s:.1f} s"
    if event.kind == "error":
        return f"{_clock(engine, event.t)}  -- error: {event.details.get('error')}"
    return None


def summary(engine: LiveEngine) -> dict:
    """What the watch saw: seconds per activity, the segments and gaps, and how the analysis kept up."""
    segments, gaps = engine.timeline.snapshot()
    seconds: dict[str, float] = {}
    for segment in segments:
        seconds[segment.name] = seconds.get(segment.name, 0.0) + segment.duration_s
    return {
        "event": "summary",
        "watched_s": round(engine.now_s(), 3),
        "seconds_by_activity": {name: round(s, 2) for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])},
        "segments": len(segments),
        "gaps": [gap.as_json() for gap in gaps],
        **engine.stats.summary(),
    }


def summary_text(data: dict) -> str:
    lines = [f"watched {data['watched_s']:.1f} s: {data['segments']} segment(s)"]
    lines += [f"  {name:<18} {seconds:7.1f} s" for name, seconds in data["seconds_by_activity"].items()]
    if data["gaps"]:
        lines.append(f"  stream lost {len(data['gaps'])} time(s), {sum(g['duration_s'] for g in data['gaps']):.1f} s")
    latency = data["change_latency_s_p95"]
    lines.append(
        f"  {data['windows']} windows, {data['frames']} frames at {data['fps']} fps, {data['skipped_frames']} skipped; "
        + (f"label change latency p95 {latency} s" if latency is not None else "no label change")
    )
    return "\n".join(lines)


def run_watch(args: argparse.Namespace) -> int:
    if bool(args.on_label) != bool(args.command):
        raise SystemExit("error: --on and --exec go together")
    settings = settings_from(args)
    assistant = Assistant(settings)
    backoff = Backoff(give_up_s=args.give_up_after)
    engine = live_engine(assistant, args.source, stride_s=args.stride, clip_memory_s=args.memory, backoff=backoff)
    if args.record:
        SegmentRecorder(engine, args.record, args.keep)
    trigger = None
    if args.on_label:
        trigger = ActivityTrigger(engine, args.on_label, args.command, args.record or settings.data_dir / "live")

    def show(event: LiveEvent) -> None:
        if args.json:
            if event.kind != "ended":
                print(json.dumps(event.as_json()), flush=True)
        elif (line := event_line(engine, event)) is not None:
            print(line, flush=True)

    engine.listeners.insert(0, show)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: engine.stop_requested.set())
    try:
        engine.start()
        deadline = time.monotonic() + args.duration_s if args.duration_s else None
        while not engine.done.wait(0.2):
            if engine.stop_requested.is_set() or (deadline is not None and time.monotonic() >= deadline):
                engine.stop()
                break
        engine.done.wait(30)
    finally:
        signal.signal(signal.SIGINT, previous)
    if trigger is not None:
        trigger.wait()
    data = summary(engine)
    print(json.dumps(data) if args.json else summary_text(data), flush=True)
    if engine.error is not None:
        print(f"error: {engine.error}", file=sys.stderr)
        return 1
    return 0
