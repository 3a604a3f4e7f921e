"""Decode a video file into uniformly sampled, resized uint8 RGB clips.

Decoding reads the stream once, front to back: seeking with ``CAP_PROP_POS_FRAMES`` is 10-20x
slower on compressed streams. The container's frame count is used only as a plan; when the
stream turns out shorter or longer than announced, or its frames' timestamps show a variable
frame rate that moves the time windows (``frame_plan.FrameClock``), a second pass samples from
the truth. Reported times are the frames' presentation times. Frames are shrunk to the requested
size as they are read. What OpenCV cannot read (AV1, or a file damaged part-way) goes through
the ffmpeg binary instead (``ffmpeg_stream``).

Limits come from content: the container's frame count and duration only plan the reading. A
header that claims more than the duration limit is checked by a bounded probe (does a frame
decode past the limit? ``decodes_after``), so a really long file is refused at once while a
header that lies (an AVI claiming 2**31 frames) is read like any other file; reading stops
anyway one frame past the limit. Decoder complaints are counted, not printed
(``decoder_log``), and one rule (``damage_note``) says when a video is damaged, whichever
decoder read it. Messages name the file by its own name: the server's upload folders are
nothing the user can act on.
"""

import logging
import math
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from core.errors import VideoError, VideoTooLargeError
from video.decoder_log import DecoderErrors, captured_stderr, damage_note
from video.ffmpeg_stream import FfmpegStream, decodes_after
from video.frame_plan import FrameClock, segment_ranges, window_ranges

log = logging.getLogger(__name__)
# Decoder chatter about unreadable input goes to stderr otherwise; our errors say it better.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

Size = int | tuple[int, int]
FrameShrink = Callable[[np.ndarray], np.ndarray]  # a decoded BGR frame -> the RGB frame kept
STILL_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
_FALLBACK_FPS = 25.0
# Below this share of the announced frames the file is treated as truncated, not merely mislabelled.
_TRUNCATION_RATIO = 0.5
_SINGLE_THREAD_MAX_PIXELS = 640 * 480


@dataclass(frozen=True)
class VideoLimits:
    """Input limits checked before (size, announced duration) and during decoding."""

    max_bytes: int | None = None
    max_duration_s: float | None = None
    min_frames: int = 2


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    frame_count: int
    duration_s: float
    width: int
    height: int
    variable_rate: bool = False  # frame times come from the stream's timestamps (``FrameClock``)
    note: str | None = None  # what the user should know about how it was read (a damaged part, say)
    errors: DecoderErrors = field(default_factory=DecoderErrors)  # what the decoder complained about


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray
    frame_indices: np.ndarray
    times_s: np.ndarray
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DecodedVideo:
    clips: list[Clip]
    info: VideoInfo


def resize_frame(frame: np.ndarray, size: Size, keep_aspect: bool) -> np.ndarray:
    height, width = (size, size) if isinstance(size, int) else size
    if keep_aspect:
        scale = max(height / frame.shape[0], width / frame.shape[1])
        scaled_h = max(height, round(frame.shape[0] * scale))
        scaled_w = max(width, round(frame.shape[1] * scale))
        frame = cv2.resize(frame, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA)
        top = (scaled_h - height) // 2
        left = (scaled_w - width) // 2
        return frame[top : top + height, left : left + width]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def shrink_frame(frame: np.ndarray, size: Size, keep_aspect: bool) -> np.ndarray:
    """A decoded BGR frame as the RGB frame the models read, at ``size``: what every decoder keeps."""
    return _to_rgb(resize_frame(frame, size, keep_aspect))


def check_file(path: str | os.PathLike, limits: VideoLimits | None) -> Path:
    """Reject what cannot be a readable file before any decoder touches it."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path.name}: no such file. Check the path.")
    if path.is_dir():
        raise VideoError(f"{path.name}: is a directory, not a video file.")
    size = path.stat().st_size
    if size == 0:
        raise VideoError(f"{path.name}: the file is empty (0 bytes).")
    if limits and limits.max_bytes is not None and size > limits.max_bytes:
        raise VideoTooLargeError(
            f"{path.name}: {size / 2**20:.1f} MB is above the {limits.max_bytes / 2**20:.0f} MB limit. "
            "Trim the video or raise ACTIVITY_MAX_FILE_MB."
        )
    return path


def open_capture(path: Path, *params: int) -> cv2.VideoCapture:
    """An OpenCV capture on the FFmpeg backend (never an image-sequence pattern); call it inside
    ``captured_stderr`` so that what FFmpeg says about a damaged file is not printed."""
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, list(params))


class _Stream:
    """An OpenCV capture; from opening to ``close`` it holds the process's stderr capture, and the
    decoder's complaints end up in ``errors``, timed by the frames they came with."""

    def __init__(self, path: Path):
        self.path = path
        self.capture: cv2.VideoCapture | None = None
        self.errors = DecoderErrors()
        self._held = ExitStack()
        self._stderr = self._held.enter_context(captured_stderr())
        try:
            self._open(path)
        except BaseException:
            self.close()  # the capture's lock must never outlive the stream
            raise

    def _open(self, path: Path) -> None:
        # Small frames decode fastest on one thread (no hand-off cost); large ones use them all.
        self.capture = open_capture(path, cv2.CAP_PROP_N_THREADS, 1)
        if self.capture.isOpened() and self._pixels() > _SINGLE_THREAD_MAX_PIXELS:
            self.capture.release()
            self.capture = open_capture(path)
        if not self.capture.isOpened():
            raise _Unreadable(
                f"{path.name}: not a readable video (unknown format, no video stream, or corrupt header)."
            )
        self._stderr.grown()  # what opening said is counted, but at no frame's time
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else _FALLBACK_FPS
        announced = self.capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.announced = int(announced) if math.isfinite(announced) and announced > 0 else 0
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def _pixels(self) -> int:
        return int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH) * self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read_selected(
        self, wanted: set[int], max_frames: int | None, shrink: FrameShrink
    ) -> tuple[dict[int, np.ndarray], int, list[float]]:
        """Grab every frame, decode to pixels only the wanted ones and ``shrink`` them at once (a long
        video keeps thousands: full size, ten minutes of 1080p would hold tens of GB); returns
        (frames, total read, every frame's presentation time in seconds)."""
        kept: dict[int, np.ndarray] = {}
        stamps: list[float] = []
        index = 0
        while self.capture.grab():
            stamps.append(self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            if self._stderr.grown():  # packets that failed are skipped inside grab(): the frame shown after them
                self.errors.mark(stamps[-1] if stamps[-1] > 0 or index == 0 else index / self.fps)
            if index in wanted:
                ok, frame = self.capture.retrieve()
                if ok and frame is not None:
                    if not self.width:  # the container did not say
                        self.height, self.width = frame.shape[:2]
                    kept[index] = shrink(frame)
            index += 1
            if max_frames is not None and index > max_frames:
                break
        return kept, index, stamps

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None
        if self._stderr is not None:
            self._held.close()
            self.errors.add(len(self._stderr.decoder_lines))
            self._stderr = None


def _max_frames(limits: VideoLimits | None, fps: float) -> int | None:
    if limits is None or limits.max_duration_s is None:
        return None
    return math.ceil(limits.max_duration_s * fps)


def _too_long(path: Path, limits: VideoLimits) -> VideoTooLargeError:
    return VideoTooLargeError(
        f"{path.name}: longer than the {limits.max_duration_s:.0f} s limit. "
        "Trim the video or raise ACTIVITY_MAX_DURATION_S."
    )


class _Unreadable(VideoError):
    """OpenCV could not open the file, decoded no frame of it, or stopped early (it gives up at the first
    damaged packet, where ffmpeg skips to the next good one): the ffmpeg fallback gets a try."""

    def __init__(self, message: str, announced: int = 0, decoded: int = 0):
        super().__init__(message)
        self.announced = announced  # the frame count OpenCV read in the header (0: none)
        self.decoded = decoded  # frames OpenCV decoded before it stopped


def _decode(
    path: str | os.PathLike,
    plan,
    num_frames: int,
    size: Size,
    keep_aspect: bool,
    limits: VideoLimits | None,
) -> DecodedVideo:
    """Run ``plan(clock) -> frame ranges`` against the real stream, one clip per range: through
    OpenCV, or through ffmpeg when OpenCV cannot read the file (``ffmpeg_stream``)."""
    path = check_file(path, limits)
    limits = limits or VideoLimits()
    try:
        return _decode_stream(_Stream, path, plan, num_frames, size, keep_aspect, limits)
    except _Unreadable as opencv_error:
        ffmpeg = partial(FfmpegStream, fallback_fps=_FALLBACK_FPS, announced_at_least=opencv_error.announced)
        try:
            video = _decode_stream(ffmpeg, path, plan, num_frames, size, keep_aspect, limits)
        except (OSError, _Unreadable):
            raise VideoError(str(opencv_error)) from None
        if not opencv_error.decoded:
            return video  # a codec OpenCV lacks: nothing was lost
        info = video.info
        note = damage_note(info.errors, opencv_error.decoded, opencv_error.announced, info.frame_count)
        return replace(video, info=replace(info, note=note))


def _decode_stream(open_stream, path: Path, plan, num_frames, size, keep_aspect, limits: VideoLimits) -> DecodedVideo:
    """The first pass plans from the container's frame count and rate; if the stream's true length
    or timestamps move the plan's frames, a second pass reads them."""

    shrink = partial(shrink_frame, size=size, keep_aspect=keep_aspect)
    stream = open_stream(path)
    try:
        max_frames = _max_frames(limits, stream.fps)
        announced = stream.announced
        if max_frames is not None and announced > max_frames:
            if decodes_after(path, limits.max_duration_s):
                raise _too_long(path, limits)
            log.debug("%s: the header claims %d frames; no frame decodes past the limit", path.name, announced)
            announced = 0  # a header that lies plans nothing: the stream is read as it comes
        regular = FrameClock(announced, stream.fps)
        first_pass = _wanted(regular, plan(regular), num_frames) if announced else set()
        kept, decoded, stamps = stream.read_selected(first_pass, max_frames, shrink)
    finally:
        stream.close()
    errors = stream.errors
    if max_frames is not None and decoded > max_frames:
        raise _too_long(path, limits)
    if decoded == 0:
        raise _Unreadable(
            f"{path.name}: no decodable frame (the codec may be unsupported, or the file is damaged).", announced
        )
    if decoded < limits.min_frames:
        raise VideoError(
            f"{path.name}: only {decoded} decodable frame(s); a video clip needs at least {limits.min_frames}."
        )
    if decoded < announced * _TRUNCATION_RATIO:
        raise _Unreadable(
            f"{path.name}: the file looks truncated: decoded {decoded} of {announced} announced frames.",
            announced,
            decoded,
        )
    clock = FrameClock.from_stamps(decoded, stream.fps, stamps)
    ranges = plan(clock)
    wanted = _wanted(clock, ranges, num_frames)
    if not wanted <= first_pass:
        log.debug(
            "%s: announced %d frames, stream has %d (variable rate: %s); re-reading",
            path,
            announced,
            decoded,
            clock.variable,
        )
        stream = open_stream(path)
        try:
            kept, _, _ = stream.read_selected(wanted, decoded, shrink)
        finally:
            stream.close()
    video = _assemble(path, stream, clock, ranges, kept, num_frames)
    return replace(video, info=replace(video.info, errors=errors, note=damage_note(errors)))


def _wanted(clock: FrameClock, ranges: list[tuple[int, int]], num_frames: int) -> set[int]:
    return {int(i) for start, stop in ranges for i in clock.sample(start, stop, num_frames)}


def _assemble(
    path: Path,
    stream: "_Stream | FfmpegStream",
    clock: FrameClock,
    ranges: list[tuple[int, int]],
    kept: dict[int, np.ndarray],
    num_frames: int,
) -> DecodedVideo:
    """Clips of the kept (already shrunk, RGB) frames, one per range."""
    if not kept:
        raise VideoError(f"{path.name}: no frame could be decoded.")
    available = np.array(sorted(kept))
    clips = []
    for start, stop in ranges:
        indices = clock.sample(start, stop, num_frames)
        # A frame that failed to retrieve is replaced by the nearest earlier decoded one.
        sources = [int(available[max(0, np.searchsorted(available, i, side="right") - 1)]) for i in indices]
        frames = np.stack([kept[s] for s in sources])
        clips.append(
            Clip(
                frames=frames,
                frame_indices=np.asarray(indices, dtype=np.int64),
                times_s=clock.times_s(indices),
                start_s=clock.time_s(start),
                end_s=clock.time_s(stop),
            )
        )
    info = VideoInfo(
        path=str(path),
        fps=stream.fps,
        frame_count=clock.total,
        duration_s=clock.duration_s,
        width=stream.width,
        height=stream.height,
        variable_rate=clock.variable,
    )
    return DecodedVideo(clips=clips, info=info)


def decode_video(
    path: str | os.PathLike,
    num_frames: int = 16,
    size: Size = 128,
    *,
    num_clips: int = 1,
    keep_aspect: bool = False,
    limits: VideoLimits | None = None,
) -> DecodedVideo:
    """Sample ``num_frames`` uniformly over the whole video, or over ``num_clips`` equal segments."""
    if num_frames < 1 or num_clips < 1:
        raise ValueError("num_frames and num_clips must be positive")
    return _decode(path, lambda clock: segment_ranges(clock.total, num_clips), num_frames, size, keep_aspect, limits)


def decode_windows(
    path: str | os.PathLike,
    window_s: float,
    stride_s: float,
    num_frames: int = 16,
    size: Size = 128,
    *,
    keep_aspect: bool = False,
    limits: VideoLimits | None = None,
) -> DecodedVideo:
    """One clip per overlapping time window (cut by the frames' timestamps on variable-rate video);
    the basis of long-video timelines."""
    if window_s <= 0 or stride_s <= 0:
        raise ValueError("window_s and stride_s must be positive")

    def plan(clock: FrameClock) -> list[tuple[int, int]]:
        if clock.variable:
            return clock.windows_by_time(window_s, stride_s)
        return window_ranges(clock.total, clock.fps, window_s, stride_s)

    return _decode(path, plan, num_frames, size, keep_aspect, limits)


def load_still(path: str | os.PathLike, size: Size = 128, *, keep_aspect: bool = False) -> DecodedVideo:
    """A still image as a one-frame clip, so frame models and retrieval can answer for it."""
    path = check_file(path, None)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VideoError(f"{path.name}: not a readable image.")
    frame = _to_rgb(resize_frame(image, size, keep_aspect))
    clip = Clip(
        frames=frame[None],
        frame_indices=np.zeros(1, dtype=np.int64),
        times_s=np.zeros(1),
        start_s=0.0,
        end_s=0.0,
    )
    info = VideoInfo(str(path), fps=0.0, frame_count=1, duration_s=0.0, width=image.shape[1], height=image.shape[0])
    return DecodedVideo(clips=[clip], info=info)


def is_still(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in STILL_SUFFIXES
