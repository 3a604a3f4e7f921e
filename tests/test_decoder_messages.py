"""Decoder complaints are counted and summarised, never printed; limits come from what decodes."""

import logging
import os
import subprocess
import threading

import imageio_ffmpeg
import numpy as np
import pytest

import video.decoding as decoding
from core.errors import VideoTooLargeError
from testkit.fuzz import avi_claims_frames, bit_flips_in_body, write_bases
from testkit.watched_opencv import watched_opencv
from video.decoder_log import DECODER_LINE, captured_stderr
from video.decoding import VideoLimits, decode_video
from video.ffmpeg_stream import FfmpegStream


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return write_bases(tmp_path_factory.mktemp("bases"))


@pytest.fixture(scope="module")
def flipped(bases, tmp_path_factory):
    """An MPEG-4 AVI with bit flips across its body: OpenCV reads all 48 frames, complaining as it goes."""
    path = tmp_path_factory.mktemp("flipped") / "flipped.avi"
    path.write_bytes(bit_flips_in_body(bases["mpeg4.avi"].read_bytes(), np.random.default_rng(0)))
    return path


def test_decoder_errors_become_one_note_and_nothing_on_stderr(flipped, bases, capfd):
    video = decode_video(flipped, num_frames=8, size=32)
    errors = video.info.errors.count  # as many as the decoder printed (how many: its version's business)
    assert video.info.frame_count == 48 and errors > 0
    assert video.info.note.startswith(f"Part of this video is damaged ({errors} decoder errors in ")
    assert video.info.note.endswith("s): the answer uses the frames that decoded.")
    assert 0 <= video.info.errors.first_s < video.info.errors.last_s <= 4.0
    clean = decode_video(bases["mpeg4.avi"], num_frames=8, size=32)
    assert clean.info.note is None and clean.info.errors.count == 0
    assert capfd.readouterr().err == ""


def test_the_ffmpeg_fallback_counts_by_the_same_rule(flipped, monkeypatch, capfd):
    monkeypatch.setattr(decoding, "_Stream", lambda path: FfmpegStream(path, fallback_fps=25.0))
    video = decode_video(flipped, num_frames=8, size=32)
    errors = video.info.errors.count
    assert video.info.frame_count == 48 and errors > 0
    assert video.info.note.startswith(f"Part of this video is damaged ({errors} decoder errors in ")
    assert capfd.readouterr().err == ""


def test_debug_logging_shows_the_raw_decoder_lines(flipped, caplog):
    with caplog.at_level(logging.DEBUG, logger="video.decoder"):
        video = decode_video(flipped, num_frames=8, size=32)
    raw = [record.getMessage() for record in caplog.records if record.name == "video.decoder"]
    assert len(raw) == video.info.errors.count > 0  # each counted error is one raw line, shown on demand
    assert all(DECODER_LINE.match(line) for line in raw)


def test_other_output_during_a_capture_is_passed_on_not_counted(capfd):
    """The capture is process-wide: another thread's log line and traceback go back to stderr."""
    other = b"WARNING app: another thread speaks\nTraceback (most recent call last):\n  File 'x.py'\nValueError: x\n"

    def speak() -> None:
        os.write(2, other)

    with captured_stderr() as capture:
        os.write(2, b"[h264 @ 0x55d0c0ffee00] error while decoding MB 3 2\nTruncating packet of size 9 to 4\n")
        thread = threading.Thread(target=speak)
        thread.start()
        thread.join()
    assert capture.decoder_lines == [
        "[h264 @ 0x55d0c0ffee00] error while decoding MB 3 2",
        "Truncating packet of size 9 to 4",
    ]
    assert capfd.readouterr().err == other.decode()


def test_a_header_claiming_two_billion_frames_is_read_for_what_it_holds(bases, tmp_path):
    path = tmp_path / "claims.avi"
    path.write_bytes(avi_claims_frames(2**31)(bases["mjpeg.avi"].read_bytes(), np.random.default_rng(0)))
    video = decode_video(path, num_frames=8, size=32, limits=VideoLimits(max_duration_s=600))
    assert video.info.frame_count == 48 and video.info.duration_s == pytest.approx(4.0)
    # The limit is still the content's: 4 s of frames are more than a 3 s limit allows.
    with pytest.raises(VideoTooLargeError, match="claims.avi: longer than the 3 s limit"):
        decode_video(path, num_frames=8, size=32, limits=VideoLimits(max_duration_s=3))


def test_a_really_long_video_is_refused_without_reading_it_through(tmp_path, monkeypatch):
    """Twenty minutes at 25 fps: the header says so, and a frame decodes past 600 s (one ffmpeg probe
    that seeks there): the stream is refused before OpenCV reads a frame."""
    path = tmp_path / "long.mp4"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=25"]
    command += ["-t", "1200", "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", str(path)]
    subprocess.run(command, check=True, timeout=120)
    monkeypatch.setattr(decoding, "_Stream", watched_opencv())
    with pytest.raises(VideoTooLargeError, match="long.mp4: longer than the 600 s limit"):
        decode_video(path, num_frames=8, size=32, limits=VideoLimits(max_duration_s=600))
    refused_after = decoding._Stream.grabbed
    video = decode_video(path, num_frames=8, size=32)  # no limit: every one of 30 000 frames is read
    assert video.info.frame_count == 30_000
    assert decoding._Stream.grabbed - refused_after >= 30_000  # the counter sees a full read
    assert refused_after == 0, f"refused after grabbing {refused_after} of 30 000 frames"  # only the probe decodes
