"""The fallback decoder: the ffmpeg binary shipped in ``imageio-ffmpeg``, for what OpenCV cannot read.

The edge install (no ``imageio-ffmpeg``, whose binary alone is 170 MB) uses an ``ffmpeg`` on the
PATH instead; without one, files OpenCV cannot read are refused as unreadable.

OpenCV's wheels carry an FFmpeg without software decoders for some codecs, AV1 first among them
(it opens the file and then decodes no frame), which is what YouTube, Netflix and newer phones
produce. The full ffmpeg of ``imageio-ffmpeg`` decodes them. It pipes raw frames, so frames are
shrunk in ffmpeg first (longer side at most ``MAX_SIDE`` pixels: every model input is far
smaller) and all of them cross the pipe; frames are read front to back like the OpenCV stream,
with the same interface (``read_selected``). The pipe carries no timestamps, so a second ffmpeg run
lists the packets' presentation times without decoding anything (``presentation_times``: about
15 ms), which is what times a variable-frame-rate file right; frames are timed by index / fps
only where those times cannot be matched to the decoded frames (damaged data).
"""

import functools
import logging
import math
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video.decoder_log import DecoderErrors
from video.decoder_log import log as decoder_log

log = logging.getLogger(__name__)
MAX_SIDE = 640
# Only shrink, keep the aspect ratio, keep even sizes for the pixel format.
_SHRINK = f"scale=w='if(gte(iw,ih),min({MAX_SIDE},iw),-2)':h='if(gte(iw,ih),-2,min({MAX_SIDE},ih))'"


@functools.cache
def ffmpeg_exe() -> str:
    """imageio-ffmpeg's binary (the full install), else ``ffmpeg`` on the PATH (running a missing one is an OSError)."""
    try:
        import imageio_ffmpeg
    except ModuleNotFoundError:
        return shutil.which("ffmpeg") or "ffmpeg"
    return imageio_ffmpeg.get_ffmpeg_exe()


# Listing packets reads the file without decoding it: seconds even for gigabytes.
PACKET_LIST_TIMEOUT_S = 120.0


def presentation_times(path: Path) -> np.ndarray | None:
    """Presentation time (s) of every frame of the first video stream, in display order, read from
    its packets (``framemd5`` of a stream copy: one line per packet, with its pts in the stream's
    time base); None when ffmpeg or the container does not say."""
    command = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0"]
    command += ["-c", "copy", "-f", "framemd5", "-"]
    try:
        listing = subprocess.run(command, capture_output=True, text=True, timeout=PACKET_LIST_TIMEOUT_S, check=True)
        time_base, stamps = None, []
        for line in listing.stdout.splitlines():
            if line.startswith("#tb 0:"):
                numerator, denominator = line.split(":", 1)[1].strip().split("/")
                time_base = int(numerator) / int(denominator)
            elif line and not line.startswith("#"):
                stamps.append(int(line.split(",")[2]))  # stream, dts, pts, duration, size, hash
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    if time_base is None or not stamps:
        return None
    return np.sort(np.asarray(stamps, dtype=np.float64)) * time_base


_ERROR_LEVELS = ("[error]", "[fatal]", "[panic]")
_LEVEL_TAG = re.compile(r"^\[(?:info|warning|verbose)\] ")
PROBE_TIMEOUT_S = 20.0
# How long ffmpeg may take to say what the file holds (it reads at most a few MB for that).
HEADER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StreamHeader:
    """What ffmpeg says about the input's video stream and about the frames it will pipe out."""

    codec: str
    fps: float
    duration_s: float
    source_size: tuple[int, int]  # (width, height) as stored
    size: tuple[int, int]  # (width, height) of the frames piped out

    @classmethod
    def parse(cls, lines: list[str]) -> "StreamHeader":
        """From ffmpeg's report (``Duration: ...``, ``Stream #0:0: Video: ...`` of the input, then of the output)."""
        videos = [line for line in lines if line.lstrip().startswith("Stream #") and " Video: " in line]
        duration = next((m for line in lines if (m := re.search(r"Duration: (\d+):(\d+):([\d.]+)", line))), None)
        fps = re.search(r" ([\d.]+) fps", videos[0])
        return cls(
            codec=videos[0].split(" Video: ", 1)[1].split()[0],
            fps=float(fps.group(1)) if fps else 0.0,
            duration_s=int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]) if duration else 0.0,
            source_size=_size(videos[0]),
            size=_size(videos[-1]),
        )


def _size(stream_line: str) -> tuple[int, int]:
    width, height = re.search(r" (\d+)x(\d+)[, ]", stream_line).groups()
    return int(width), int(height)


def decodes_after(path: Path, seconds: float) -> bool | None:
    """Whether a frame of ``path`` decodes at ``seconds`` or later: ffmpeg seeks there (through the
    container's index, without reading what comes before) and decodes one frame. A bounded probe for
    a header that claims a long video: the claim may be a lie (damage, a hostile file). None when the
    probe itself fails or takes too long."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "quiet", "-ss", f"{seconds:.3f}", "-i", str(path)]
    command += ["-map", "0:v:0", "-frames:v", "1", "-f", "framemd5", "-"]
    try:
        listing = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return any(line and not line.startswith("#") for line in listing.stdout.splitlines())


class FfmpegStream:
    """Frames of ``path`` through the ffmpeg binary; raises ``OSError`` when it cannot read them either.

    ffmpeg's messages are read from its own stderr pipe as they come: the report on the input
    (which ``StreamHeader`` parses) and then one error line per damaged packet, which is counted
    in ``errors`` at the time of the frames being read (``video.decoder_log``), never printed.
    ffmpeg decodes a few frames ahead of the pipe's reader, so those times can be early by the
    frames that fit in the pipe (about 64 KiB of pixels).
    """

    def __init__(self, path: Path, fallback_fps: float, announced_at_least: int = 0):
        """``announced_at_least``: a frame count another reader found in the header. ffmpeg estimates
        the length from the data it finds, so on a cut-off file only the header's count tells."""
        self.path = path
        self.errors = DecoderErrors()
        self._read = 0  # frames read so far: when the error lines arriving now were written
        self.fps = fallback_fps
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats"]
        command += ["-loglevel", "repeat+level+info", "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-vf", _SHRINK]
        command += ["-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo", "-"]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._header_lines: list[str] = []
        self._header_done = threading.Event()
        self._reader = threading.Thread(target=self._read_messages, name="ffmpeg-messages", daemon=True)
        self._reader.start()
        try:
            header = self._header()
        except OSError:
            self.close()
            raise
        fps = header.fps
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else fallback_fps
        duration = header.duration_s
        self.announced = max(round(duration * self.fps) if math.isfinite(duration) else 0, announced_at_least)
        self.width, self.height = header.source_size
        self._size = header.size
        self._times = presentation_times(path)
        log.debug("%s: decoded by ffmpeg (%s), which OpenCV cannot read", path.name, header.codec)

    def _header(self) -> StreamHeader:
        if not self._header_done.wait(HEADER_TIMEOUT_S) or not self._header_lines:
            raise OSError("ffmpeg found no readable video stream")
        try:
            return StreamHeader.parse(self._header_lines)
        except (IndexError, AttributeError, ValueError) as error:
            raise OSError(f"ffmpeg's report on the file could not be read ({error})") from None

    def _read_messages(self) -> None:
        """ffmpeg's stderr, line by line, until it exits: the header first, then error lines counted."""
        in_output = False
        for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if any(level in line for level in _ERROR_LEVELS):
                self.errors.add(1, self._read / self.fps if self._header_done.is_set() else None)
                decoder_log.debug("%s", line)
            elif not self._header_done.is_set():
                text = _LEVEL_TAG.sub("", line)
                self._header_lines.append(text)
                in_output = in_output or text.startswith("Output #")
                if in_output and text.lstrip().startswith("Stream #") and " Video: " in text:
                    self._header_done.set()
        if not self._header_done.is_set():
            self._header_lines.clear()  # ended before saying what it would pipe out: not readable
            self._header_done.set()

    def read_selected(
        self, wanted: set[int], max_frames: int | None, shrink: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[dict[int, np.ndarray], int, list[float]]:
        """(the wanted frames, frames read, their times): ``_Stream.read_selected``'s contract."""
        width, height = self._size
        frame_bytes = width * height * 3
        kept: dict[int, np.ndarray] = {}
        index, ended = 0, "end"
        while True:
            raw = self._process.stdout.read(frame_bytes)
            if len(raw) < frame_bytes:
                break
            if index in wanted:
                kept[index] = shrink(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
            index += 1
            self._read = index
            if max_frames is not None and index > max_frames:
                ended = "limit"
                break
        if ended == "end" and self._process.wait() != 0:
            log.debug(
                "%s: ffmpeg stopped after %d frames (exit status %d)", self.path.name, index, self._process.returncode
            )
            ended = "damage"  # ffmpeg gave up part-way: keep what it decoded
        return kept, index, self._frame_times(index, ended)

    def _frame_times(self, count: int, ended: str) -> list[float]:
        """The packets' times where they are the decoded frames' (every packet decoded, or reading
        stopped on purpose before the end); index / fps after damage, where frames went missing."""
        times = self._times
        matched = times is not None and {"end": len(times) == count, "limit": len(times) >= count}.get(ended, False)
        return times[:count].tolist() if matched else [i / self.fps for i in range(count)]

    def close(self) -> None:
        """Stops ffmpeg when reading ended early; waits for its last messages to be counted."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._process.stdout.close()
        self._reader.join()
        self._process.stderr.close()
