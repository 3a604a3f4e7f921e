"""The fallback decoder: the ffmpeg binary shipped in ``imageio-ffmpeg``, for what OpenCV cannot read.

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

import logging
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np

log = logging.getLogger(__name__)
# It warns whenever frames are scaled, which here is on purpose.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
MAX_SIDE = 640
# Only shrink, keep the aspect ratio, keep even sizes for the pixel format.
_SHRINK = f"scale=w='if(gte(iw,ih),min({MAX_SIDE},iw),-2)':h='if(gte(iw,ih),-2,min({MAX_SIDE},ih))'"


# Listing packets reads the file without decoding it: seconds even for gigabytes.
PACKET_LIST_TIMEOUT_S = 120.0


def presentation_times(path: Path) -> np.ndarray | None:
    """Presentation time (s) of every frame of the first video stream, in display order, read from
    its packets (``framemd5`` of a stream copy: one line per packet, with its pts in the stream's
    time base); None when ffmpeg or the container does not say."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0"]
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


class FfmpegStream:
    """Frames of ``path`` through the ffmpeg binary; raises ``OSError`` when it cannot read them either."""

    def __init__(self, path: Path, fallback_fps: float, announced_at_least: int = 0):
        """``announced_at_least``: a frame count another reader found in the header. ffmpeg estimates
        the length from the data it finds, so on a cut-off file only the header's count tells."""
        self.path = path
        self._frames = imageio_ffmpeg.read_frames(
            str(path), pix_fmt="bgr24", output_params=["-vf", _SHRINK, "-fps_mode", "passthrough"]
        )
        meta = next(self._frames)  # raises OSError for a file with no readable video stream
        fps = float(meta.get("fps") or 0)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else fallback_fps
        duration = float(meta.get("duration") or 0)
        self.announced = max(round(duration * self.fps) if math.isfinite(duration) else 0, announced_at_least)
        self.width, self.height = meta["source_size"]
        self._size = meta["size"]  # (width, height) of the frames piped out
        self._times = presentation_times(path)
        log.info("%s: decoded by ffmpeg (%s), which OpenCV cannot read", path, meta.get("codec"))

    def read_selected(
        self, wanted: set[int], max_frames: int | None, shrink: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[dict[int, np.ndarray], int, list[float]]:
        """(the wanted frames, frames read, their times): ``_Stream.read_selected``'s contract."""
        width, height = self._size
        kept: dict[int, np.ndarray] = {}
        index, ended = 0, "end"
        try:
            for raw in self._frames:
                if index in wanted:
                    kept[index] = shrink(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
                index += 1
                if max_frames is not None and index > max_frames:
                    ended = "limit"
                    break
        except RuntimeError as error:  # ffmpeg gave up part-way (damaged data): keep what it decoded
            log.warning("%s: ffmpeg stopped after %d frames: %s", self.path, index, str(error).splitlines()[0])
            ended = "damage"
        return kept, index, self._frame_times(index, ended)

    def _frame_times(self, count: int, ended: str) -> list[float]:
        """The packets' times where they are the decoded frames' (every packet decoded, or reading
        stopped on purpose before the end); index / fps after damage, where frames went missing."""
        times = self._times
        matched = times is not None and {"end": len(times) == count, "limit": len(times) >= count}.get(ended, False)
        return times[:count].tolist() if matched else [i / self.fps for i in range(count)]

    def close(self) -> None:
        self._frames.close()  # stops the ffmpeg process when reading ended early
