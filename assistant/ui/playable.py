"""A browser-playable preview of an uploaded clip, and the way back to the original.

Browsers play H.264 MP4 and WebM, not the MJPEG/Xvid AVI files UCF101 and many cameras
produce. Such an upload gets a small H.264 copy next to it, shown in the page; the analysis
always reads the original file, so the app and the CLI judge exactly the same frames.
"""

import logging
import os
import subprocess
import uuid
from pathlib import Path

import cv2

from video.decoder_log import captured_stderr
from video.ffmpeg_stream import ffmpeg_exe

log = logging.getLogger(__name__)
PREVIEW_SUFFIX = ".preview.mp4"
BROWSER_CODECS = {"avc1", "h264", "x264", "vp80", "vp90", "av01"}
BROWSER_CONTAINERS = {".mp4", ".m4v", ".mov", ".webm", ".ogg"}
PREVIEW_HEIGHT = 480
TIMEOUT_S = 300


def fourcc(path: Path) -> str:
    with captured_stderr():  # what FFmpeg says about a damaged upload is not printed
        capture = cv2.VideoCapture(str(path))
        try:
            code = int(capture.get(cv2.CAP_PROP_FOURCC))
        finally:
            capture.release()
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ").lower()


def is_browser_playable(path: Path) -> bool:
    return path.suffix.lower() in BROWSER_CONTAINERS and fourcc(path) in BROWSER_CODECS


def original_of(path: str | Path) -> Path:
    """The uploaded file a preview was made from (the path itself when it is not a preview)."""
    path = Path(path)
    if path.name.endswith(PREVIEW_SUFFIX):
        original = path.with_name(path.name.removesuffix(PREVIEW_SUFFIX))
        if original.is_file():
            return original
    return path


def playable_preview(path: str | Path) -> Path:
    """``path`` itself when a browser can play it, else an H.264 copy beside it (made once).

    When the file cannot be transcoded (not a video at all, or no ffmpeg to do it) the original is
    returned: the analysis reads it either way and explains what is wrong with it.
    """
    path = Path(path)
    preview = path.with_name(path.name + PREVIEW_SUFFIX)
    if preview.is_file() or is_browser_playable(path):
        return preview if preview.is_file() else path
    command = [
        ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(path), "-an",
        "-vf", f"scale=-2:'min({PREVIEW_HEIGHT},trunc(ih/2)*2)'",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        str(partial := path.with_name(f".{uuid.uuid4().hex}.mp4")),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT_S)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        partial.unlink(missing_ok=True)
        log.info("no preview for %s: %s", path.name, (getattr(error, "stderr", None) or b"").decode(errors="replace"))
        return path
    except OSError as error:  # no ffmpeg (the edge install without one on the PATH): the page shows the original
        log.warning("no browser preview for %s: %s (install ffmpeg for previews of AVI uploads)", path.name, error)
        return path
    os.replace(partial, preview)  # two sessions uploading the same file never see half a preview
    return preview
