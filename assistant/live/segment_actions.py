"""What a watch does with segments besides printing them: keep their clips, run a command when one starts.

A segment is final only when the next one starts (or the watch ends), so its clip is written
then, from the engine's ``ClipMemory``; a segment longer than that memory keeps its last part
(the JSON says where the clip starts). A command runs when an activity *starts*, with the clip
of that start (the frames of the window that showed it) and the segment as JSON: waiting for
the segment's end would defeat a "tell me when ..." alert.
"""

import json
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from assistant.live.engine import LiveEngine, LiveEvent
from assistant.live.live_timeline import LiveSegment

log = logging.getLogger(__name__)
UNKNOWN = "unknown"


def segment_stem(segment: LiveSegment) -> str:
    """A file name that sorts by time and says what happened: ``20260102-101502.250_Swing``."""
    when = datetime.fromtimestamp(segment.started_at).strftime("%Y%m%d-%H%M%S.%f")[:-3]
    return f"{when}_{re.sub(r'[^A-Za-z0-9_-]+', '-', segment.name)}"


def write_segment(engine: LiveEngine, segment: LiveSegment, folder: Path, end_s: float | None = None) -> dict:
    """The segment's clip (if frames are kept) and JSON side by side in ``folder``; returns the JSON written."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = segment_stem(segment)
    end = segment.end_s if end_s is None else end_s
    clip = engine.clip_memory.write(segment.start_s, end, folder / f"{stem}.mp4") if engine.clip_memory else None
    data = segment.as_json() | {"clip": str(clip) if clip else None}
    if clip is not None and engine.clip_memory is not None:
        oldest = engine.clip_memory.oldest_s() or segment.start_s
        data["clip_starts_s"] = round(max(segment.start_s, oldest), 3)
    path = folder / f"{stem}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
    partial.replace(path)
    return data | {"json": str(path)}


def wanted(segment: LiveSegment, keep: Collection[str]) -> bool:
    """``keep`` names labels (``unknown`` for unknown segments); empty keeps every segment."""
    return not keep or segment.name.lower() in {k.lower() for k in keep}


class SegmentRecorder:
    """Listens to an engine: every finished segment worth keeping is written to ``folder``."""

    def __init__(self, engine: LiveEngine, folder: Path, keep: Collection[str] = ()) -> None:
        self.engine, self.folder, self.keep = engine, folder, keep
        self.written: list[dict] = []
        engine.listeners.append(self)

    def __call__(self, event: LiveEvent) -> None:
        if event.kind == "segment" and event.previous is not None:
            self._keep(event.previous)
        elif event.kind == "ended" and (current := self.engine.timeline.current()) is not None:
            self._keep(current)

    def _keep(self, segment: LiveSegment) -> None:
        if wanted(segment, self.keep):
            self.written.append(write_segment(self.engine, segment, self.folder))


class ActivityTrigger:
    """Runs ``command`` (through the shell) each time a segment of ``label`` starts.

    The command gets the start's clip and JSON as ``{clip}`` / ``{json}`` in its text (shell-quoted)
    and as $LIVE_CLIP / $LIVE_JSON, the JSON also on stdin. It runs in the background: a slow
    command never holds up the watch; its exit status is logged.
    """

    def __init__(self, engine: LiveEngine, label: str, command: str, folder: Path) -> None:
        self.engine, self.label, self.command, self.folder = engine, label, command, folder
        self.started: list[subprocess.Popen] = []
        engine.listeners.append(self)

    def __call__(self, event: LiveEvent) -> None:
        segment = event.segment
        if event.kind != "segment" or segment is None or segment.name.lower() != self.label.lower():
            return
        written = write_segment(self.engine, segment, self.folder, end_s=event.t)
        clip, json_path = written.get("clip") or "", written["json"]
        command = self.command.replace("{clip}", shlex.quote(clip)).replace("{json}", shlex.quote(json_path))
        env = {**os.environ, "LIVE_CLIP": clip, "LIVE_JSON": json_path, "LIVE_LABEL": segment.name}
        process = subprocess.Popen(command, shell=True, env=env, stdin=subprocess.PIPE)
        try:
            assert process.stdin is not None
            process.stdin.write(Path(json_path).read_bytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # the command does not read its stdin
        self.started.append(process)
        log.info("%s started: ran %s (pid %d)", segment.name, self.command, process.pid)

    def wait(self, timeout_s: float = 10.0) -> list[int | None]:
        """Exit statuses of the commands started (None: still running after ``timeout_s``)."""
        statuses = []
        for process in self.started:
            try:
                statuses.append(process.wait(timeout_s))
            except subprocess.TimeoutExpired:
                statuses.append(None)
        return statuses
