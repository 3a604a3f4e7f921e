"""Decoder complaints (FFmpeg inside OpenCV, the ffmpeg binary): captured, counted and summarised.

A damaged file makes FFmpeg complain once per bad packet (``[mpeg4 @ 0x...] marker does not
match f_code``), thousands of lines for one file. Printed, they bury the one line the user needs;
counted, they are the best evidence that part of a video is damaged. So they are captured and
become a count with the time span they came from (``DecoderErrors``), which the answer states
("412 decoder errors in 3.2-5.0 s: part of this video is damaged"). ``--log-level DEBUG`` shows
every line as the decoder wrote it (logger ``video.decoder``).

OpenCV's FFmpeg backend writes from C straight to file descriptor 2, which the whole process
shares: the only way to catch it is to point fd 2 elsewhere while OpenCV decodes. That redirection
is process-wide, so ``captured_stderr`` holds one lock: OpenCV decodes one file at a time (other
threads keep classifying, answering and serving while one decodes; on a request-per-thread
server decoding is a small share of an answer). Whatever else reaches fd 2 meanwhile (another
thread's log line) is not a decoder line: it is written back to the real stderr when the capture
ends, a fraction of a second late, never lost and never counted. Telling them apart: FFmpeg
prefixes most lines with the component that speaks (``[h264 @ 0x...]``) but not all
(``Truncating packet of size ...``), while this process's own output is its logging format
(``WARNING name: ...``), warnings and tracebacks; so what is not recognisably Python's is the
decoder's. The ffmpeg binary has its own
stderr pipe and needs no capture (``video.ffmpeg_stream``).
"""

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger("video.decoder")
# "[mpeg4 @ 0x55...] ..." (an FFmpeg component's message) or OpenCV's own "[ERROR:0@1.2] ...".
DECODER_LINE = re.compile(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\]|^\[ ?(?:ERROR|WARN)[:\]]")
# Python's own: a logging line, a warning, the start of a traceback.
PYTHON_LINE = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)[ :]|^\S+:\d+: \w*Warning|^Traceback ")
_one_capture = threading.RLock()


@dataclass
class DecoderErrors:
    """How many error messages the decoder wrote, and over which stretch of the video (seconds)."""

    count: int = 0
    first_s: float | None = None
    last_s: float | None = None

    def add(self, count: int, time_s: float | None = None) -> None:
        """``count`` more errors, seen while the frame at ``time_s`` was decoded (None: opening the file)."""
        if count <= 0:
            return
        self.count += count
        if time_s is not None:
            self.mark(time_s)

    def mark(self, time_s: float) -> None:
        """Errors came while the frame at ``time_s`` was decoded (counted separately)."""
        self.first_s = time_s if self.first_s is None else min(self.first_s, time_s)
        self.last_s = time_s if self.last_s is None else max(self.last_s, time_s)

    def where(self) -> str:
        if self.first_s is None or self.last_s is None:
            return ""
        if round(self.first_s, 1) == round(self.last_s, 1):
            return f" at {self.first_s:.1f} s"
        return f" in {self.first_s:.1f}-{self.last_s:.1f} s"


def damage_note(errors: DecoderErrors, stopped_after: int = 0, announced: int = 0, read: int = 0) -> str | None:
    """The one rule for "damaged", whichever decoder read the file: the decoder reported errors, or
    the usual decoder stopped part-way (``stopped_after`` frames) and the fallback read past it.
    None for a clean read."""
    parts = []
    if errors.count:
        parts.append(f"{errors.count} decoder error{'s' if errors.count != 1 else ''}{errors.where()}")
    if stopped_after:
        parts.append(
            f"the usual decoder stopped after {stopped_after} of {announced} frames, and {read} could be read "
            "past the damage; times after the damaged part may be early by the length of what was lost"
        )
    if not parts:
        return None
    return "Part of this video is damaged (" + "; ".join(parts) + "): the answer uses the frames that decoded."


def is_decoder_line(line: str) -> bool:
    return bool(DECODER_LINE.match(line)) or not PYTHON_LINE.match(line)


class StderrCapture:
    """What reached fd 2 during a capture; ``grown()`` tells whether anything arrived since the last call."""

    def __init__(self, sink) -> None:
        self._sink = sink
        self._seen = 0

    def grown(self) -> bool:
        size = os.fstat(self._sink.fileno()).st_size
        grew, self._seen = size > self._seen, size
        return grew

    def split(self) -> tuple[list[str], bytes]:
        """(decoder lines, everything else as written)."""
        self._sink.seek(0)
        decoder, other = [], bytearray()
        in_traceback = False
        for raw in self._sink:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                continue
            if in_traceback or not is_decoder_line(line):
                other += raw
                # A traceback goes on with indented lines and ends with the exception's line.
                in_traceback = line.startswith("Traceback ") or (in_traceback and line[:1].isspace())
            else:
                decoder.append(line)
        return decoder, bytes(other)


@contextmanager
def captured_stderr() -> Iterator[StderrCapture]:
    """Point fd 2 at a temporary file while the block runs (one block at a time in the process);
    afterwards decoder lines go to the DEBUG log and everything else back to stderr.

    The capture's ``decoder_lines`` attribute holds the decoder lines once the block has ended.
    """
    with _one_capture, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        capture = StderrCapture(sink)
        try:
            yield capture
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            decoder, other = capture.split()
            capture.decoder_lines = decoder
            if other:
                os.write(2, other)
            if log.isEnabledFor(logging.DEBUG):
                for line in decoder:
                    log.debug("%s", line)
