"""Decoding: formats and sizes, uniform sampling, padding, windows and every kind of bad input."""

import shutil
import subprocess
import time
import tracemalloc

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

import video.decoding as video_module
from core.errors import VideoError, VideoTooLargeError
from testkit.synthetic import motion_frames, write_ffmpeg, write_opencv, write_phone_like_vfr
from testkit.watched_opencv import watched_opencv
from video.decoding import (
    VideoLimits,
    decode_video,
    decode_windows,
    load_still,
)
from video.ffmpeg_stream import FfmpegStream
from video.frame_plan import sample_indices, window_ranges


def frames(size=(48, 64), count=30, seed=0):
    return motion_frames("Slide", np.random.default_rng(seed), size, count)


def numbered_frames(count: int, size=(32, 32)) -> np.ndarray:
    """Frame i is filled with grey level 8*i, so a decoded frame tells which source frame it was."""
    return np.stack([np.full((*size, 3), 8 * i, np.uint8) for i in range(count)])


@pytest.mark.parametrize(
    "suffix, writer",
    [
        (".avi", lambda p, f: write_opencv(p, f, fourcc="XVID")),
        (".avi", lambda p, f: write_opencv(p, f, fourcc="MJPG")),
        (".mp4", lambda p, f: write_ffmpeg(p, f, codec_args=("-c:v", "libx264", "-pix_fmt", "yuv420p"))),
        (
            ".webm",
            lambda p, f: write_ffmpeg(p, f, codec_args=("-c:v", "libvpx-vp9", "-deadline", "realtime")),
        ),
    ],
    ids=["xvid-avi", "mjpeg-avi", "h264-mp4", "vp9-webm"],
)
def test_decodes_common_codecs(tmp_path, suffix, writer):
    path = writer(tmp_path / f"clip{suffix}", frames())
    video = decode_video(path, num_frames=16, size=64)
    clip = video.clips[0]
    assert clip.frames.shape == (16, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert video.info.frame_count == 30
    assert video.info.fps == pytest.approx(12.0, rel=0.01)
    assert video.info.duration_s == pytest.approx(2.5, rel=0.05)
    assert (video.info.width, video.info.height) == (64, 48)


@pytest.mark.parametrize("size", [(48, 64), (64, 48), (48, 65), (1080, 1920)], ids=["tiny", "portrait", "odd", "1080p"])
def test_decodes_odd_sizes(tmp_path, size):
    count = 6 if size[0] == 1080 else 20
    path = write_ffmpeg(
        tmp_path / "c.mp4",
        frames(size, count),
        codec_args=("-c:v", "libx264", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"),
    )
    video = decode_video(path, num_frames=4, size=(40, 30))
    assert video.clips[0].frames.shape == (4, 40, 30, 3)
    assert video.info.frame_count == count


def test_grayscale_source_becomes_rgb(tmp_path):
    path = write_ffmpeg(tmp_path / "gray.mkv", frames(), codec_args=("-c:v", "ffv1", "-pix_fmt", "gray"))
    clip = decode_video(path, num_frames=8, size=32).clips[0]
    assert clip.frames.shape == (8, 32, 32, 3)
    assert np.array_equal(clip.frames[..., 0], clip.frames[..., 2])


def test_variable_frame_rate(tmp_path):
    source = write_ffmpeg(tmp_path / "cfr.mp4", frames(count=40), codec_args=("-c:v", "libx264", "-pix_fmt", "yuv420p"))
    vfr = tmp_path / "vfr.mkv"
    # Drop every frame whose index is 1 mod 3: the timestamps become irregular.
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(source),
         "-vf", "select='not(eq(mod(n\\,3)\\,1))'", "-fps_mode", "vfr", "-c:v", "libx264", str(vfr)],
        check=True, timeout=60,
    )  # fmt: skip
    video = decode_video(vfr, num_frames=8, size=32)
    assert video.clips[0].frames.shape == (8, 32, 32, 3)
    assert 20 <= video.info.frame_count <= 30


def test_variable_frame_rate_video_keeps_its_true_times_and_windows(tmp_path):
    path, shown = write_phone_like_vfr(tmp_path / "phone.mp4")
    video = decode_windows(path, window_s=2.0, stride_s=1.0, num_frames=4, size=16)
    # index / fps (the container's average, 80 frames in 6 s) would put frame 60 at 4.5 s; it is shown at 2 s.
    assert video.info.frame_count == 80
    assert video.info.duration_s == pytest.approx(
        6.0, abs=0.01
    )  # the last frame (5.8 s) lasts 0.2 s like the one before
    assert [c.start_s for c in video.clips] == pytest.approx([0, 1, 2, 3, 4], abs=0.01)
    assert [c.end_s - c.start_s for c in video.clips] == pytest.approx([2.0] * 5, abs=0.21)
    capture, levels = cv2.VideoCapture(str(path)), []
    while (frame := capture.read()[1]) is not None:
        levels.append(frame.mean())  # each frame's grey level after the codec's round trip
    for clip in video.clips:
        means = clip.frames.mean(axis=(1, 2, 3))
        source = np.abs(means[:, None] - np.array(levels)[None]).argmin(axis=1)
        assert source.tolist() == clip.frame_indices.tolist()  # the pixels are those frames'
        np.testing.assert_allclose(clip.times_s, shown[clip.frame_indices], atol=1e-3)  # at their true times
        assert clip.start_s - 1e-6 <= clip.times_s.min() and clip.times_s.max() < clip.end_s
    # Frames are spread evenly in time, not in frame count: the window over 0.5-2.5 s is not all
    # from its dense first half (3 of 4 frames would be, counting frames).
    gaps = np.diff(video.clips[1].times_s)
    assert gaps.max() - gaps.min() <= 0.21


def _same_reading(first, second, grey_tolerance: float) -> None:
    """Two decodes of one file agree: the same frames sampled, at the same times, with the same pixels."""
    assert first.info.frame_count == second.info.frame_count
    assert first.info.duration_s == pytest.approx(second.info.duration_s, abs=1e-3)
    for a, b in zip(first.clips, second.clips, strict=True):
        assert a.frame_indices.tolist() == b.frame_indices.tolist()
        np.testing.assert_allclose(a.times_s, b.times_s, atol=1e-3)
        assert (a.start_s, a.end_s) == pytest.approx((b.start_s, b.end_s), abs=1e-3)
        assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() <= grey_tolerance


def test_av1_which_opencv_cannot_decode_is_read_through_ffmpeg(tmp_path, monkeypatch):
    grey = np.stack([np.full((48, 64, 3), 6 * i, np.uint8) for i in range(40)])
    path = write_ffmpeg(tmp_path / "clip.mkv", grey, fps=20, codec_args=("-c:v", "libsvtav1", "-preset", "12"))
    monkeypatch.setattr(video_module, "_Stream", watched_opencv(0))  # an OpenCV build without AV1
    video = decode_video(path, num_frames=5, size=16)
    info = video.info
    assert (info.width, info.height, info.frame_count, info.fps, info.duration_s) == (64, 48, 40, 20.0, 2.0)
    assert info.note is None  # a codec OpenCV lacks loses nothing: no note for the answer
    clip = video.clips[0]
    assert clip.frame_indices.tolist() == [4, 12, 20, 28, 36]
    np.testing.assert_allclose(clip.frames.mean(axis=(1, 2, 3)), 6 * clip.frame_indices, atol=4)
    assert clip.times_s.tolist() == pytest.approx([0.2, 0.6, 1.0, 1.4, 1.8])


def test_variable_frame_rate_av1_through_ffmpeg_keeps_its_true_times(tmp_path, monkeypatch):
    """The fallback's pipe carries no timestamps: the packets' presentation times time the frames."""
    path, shown = write_phone_like_vfr(tmp_path / "phone.mp4", codec=("-c:v", "libsvtav1", "-preset", "12"))
    monkeypatch.setattr(video_module, "_Stream", watched_opencv(0))
    video = decode_windows(path, window_s=2.0, stride_s=1.0, num_frames=4, size=16)
    assert video.info.variable_rate and video.info.frame_count == 80
    assert video.info.duration_s == pytest.approx(6.0, abs=0.01)
    assert [c.start_s for c in video.clips] == pytest.approx([0, 1, 2, 3, 4], abs=0.01)
    for clip in video.clips:
        np.testing.assert_allclose(clip.times_s, shown[clip.frame_indices], atol=1e-3)
        np.testing.assert_allclose(clip.frames.mean(axis=(1, 2, 3)), 3 * clip.frame_indices, atol=6)


@pytest.mark.parametrize("window", [False, True], ids=["whole-clip", "windows"])
def test_opencv_and_the_ffmpeg_fallback_give_the_same_frames_and_times(tmp_path, window):
    """Whichever decoder reads a file, the answer sees the same frames at the same times."""
    path, _ = write_phone_like_vfr(tmp_path / "phone.mp4")  # lossless H.264, 30 then 5 fps

    def read():
        if window:
            return decode_windows(path, window_s=2.0, stride_s=1.0, num_frames=4, size=16)
        return decode_video(path, num_frames=8, size=16)

    through_opencv = read()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video_module, "_Stream", watched_opencv(0))
        through_ffmpeg = read()
    _same_reading(through_opencv, through_ffmpeg, grey_tolerance=2)
    assert through_opencv.info.variable_rate and through_ffmpeg.info.variable_rate  # times from the stamps


def test_the_ffmpeg_fallback_sees_the_picture_opencv_sees(tmp_path):
    """Large frames are shrunk in ffmpeg before they cross the pipe; the model inputs stay the same."""
    path = write_ffmpeg(
        tmp_path / "wide.mp4", frames(count=12, size=(720, 1280)), codec_args=("-c:v", "libx264", "-qp", "0")
    )
    stream = FfmpegStream(path, fallback_fps=25.0)
    try:
        kept, count, _ = stream.read_selected({0, 11}, None, lambda frame: frame.copy())
    finally:
        stream.close()
    assert count == 12 and kept[0].shape == (360, 640, 3) and (stream.width, stream.height) == (1280, 720)
    through_opencv = decode_video(path, num_frames=4, size=(72, 128))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video_module, "_Stream", lambda path: FfmpegStream(path, fallback_fps=25.0))
        through_ffmpeg = decode_video(path, num_frames=4, size=(72, 128))
    difference = np.abs(through_ffmpeg.clips[0].frames.astype(int) - through_opencv.clips[0].frames.astype(int))
    assert difference.mean() < 3


def test_a_video_damaged_in_the_middle_is_read_past_the_damage(tmp_path):
    codec = ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-threads", "1")
    path = write_ffmpeg(tmp_path / "phone.mp4", frames(count=90, size=(120, 160)), codec_args=codec)
    data = bytearray(path.read_bytes())
    start, length = len(data) // 3, len(data) // 10
    data[start : start + length] = np.random.default_rng(1).integers(0, 256, length, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.MonkeyPatch.context() as patch:  # an OpenCV that gives up at the damage, as 4.x builds do
        patch.setattr(video_module, "_Stream", watched_opencv(20))
        video = decode_video(damaged, num_frames=8, size=32)
    assert 60 <= video.info.frame_count < 90  # ffmpeg skips the damaged packets and reads on
    assert "the usual decoder stopped after 20 of 90 frames" in video.info.note  # and the answer says what was lost
    # Whichever decoder the installed OpenCV leaves it to, the damage is read past and reported.
    video = decode_video(damaged, num_frames=8, size=32)
    assert 60 <= video.info.frame_count < 90
    assert video.info.note.startswith("Part of this video is damaged (")


def test_long_video_memory_holds_the_small_frames_not_the_decoded_ones(tmp_path):
    """Windows over a long video keep many of its frames; held at decoded size, ten minutes of 1080p
    would need tens of GB. Here the 80 kept frames of 640x360 would hold 55 MB; shrunk, far less."""
    path = write_ffmpeg(tmp_path / "hd.mp4", frames(count=150, size=(360, 640)), fps=30)
    tracemalloc.start()
    try:
        video = decode_windows(path, window_s=1.0, stride_s=0.5, num_frames=16, size=32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    kept = {int(i) for clip in video.clips for i in clip.frame_indices}
    assert len(kept) >= 75  # half the frames are needed by some window
    assert peak < 20 * 2**20, f"decoding held {peak / 2**20:.0f} MB"


def test_samples_uniformly_over_the_whole_clip(tmp_path):
    path = write_opencv(tmp_path / "n.avi", numbered_frames(30), fourcc="MJPG")
    clip = decode_video(path, num_frames=5, size=32).clips[0]
    assert clip.frame_indices.tolist() == [3, 9, 15, 21, 27]
    # The pixels really come from those source frames (MJPEG is lossy: compare loosely).
    assert np.allclose(clip.frames.mean(axis=(1, 2, 3)), 8 * clip.frame_indices, atol=3)
    assert clip.times_s.tolist() == pytest.approx([i / 12 for i in (3, 9, 15, 21, 27)])


def test_sample_indices_cover_and_pad():
    indices = sample_indices(0, 160, 16)
    assert indices[0] < 10 and indices[-1] > 150
    assert np.all(np.diff(indices) == 10)
    assert sample_indices(0, 3, 6).tolist() == [0, 1, 2, 2, 2, 2]


def test_short_clip_is_padded_with_last_frame(tmp_path):
    path = write_opencv(tmp_path / "short.avi", numbered_frames(4), fourcc="MJPG")
    clip = decode_video(path, num_frames=8, size=32).clips[0]
    assert clip.frame_indices.tolist() == [0, 1, 2, 3, 3, 3, 3, 3]
    assert np.array_equal(clip.frames[3], clip.frames[7])


def test_several_clips_split_the_video_into_segments(tmp_path):
    path = write_opencv(tmp_path / "n.avi", numbered_frames(30), fourcc="MJPG")
    clips = decode_video(path, num_frames=4, size=32, num_clips=3).clips
    assert [c.frame_indices.tolist() for c in clips] == [[1, 3, 6, 8], [11, 13, 16, 18], [21, 23, 26, 28]]


def test_windows_cover_the_video_with_overlap(tmp_path):
    path = write_opencv(tmp_path / "n.avi", numbered_frames(30), fourcc="MJPG")  # 2.5 s at 12 fps
    clips = decode_windows(path, window_s=1.0, stride_s=0.5, num_frames=4, size=32).clips
    assert [(round(c.start_s, 2), round(c.end_s, 2)) for c in clips][:2] == [(0.0, 1.0), (0.5, 1.5)]
    assert clips[-1].end_s == pytest.approx(2.5)
    assert window_ranges(10, 10.0, 4.0, 2.0) == [(0, 10)]


def test_wrong_container_frame_count_is_not_trusted(tmp_path):
    """An AVI whose header claims more frames than the stream holds still samples the real frames."""
    path = write_opencv(tmp_path / "n.avi", numbered_frames(30), fourcc="MJPG")
    data = bytearray(path.read_bytes())
    offset = data.index(b"avih") + 8 + 16  # dwTotalFrames in the main AVI header
    assert int.from_bytes(data[offset : offset + 4], "little") == 30
    data[offset : offset + 4] = (40).to_bytes(4, "little")
    data[data.index(b"idx1") : data.index(b"idx1") + 4] = b"JUNK"  # no index: the header count is all there is
    path.write_bytes(bytes(data))
    video = decode_video(path, num_frames=5, size=32)
    assert video.info.frame_count == 30
    assert video.clips[0].frame_indices.tolist() == [3, 9, 15, 21, 27]


def test_keep_aspect_centre_crops(tmp_path):
    wide = np.zeros((3, 40, 80, 3), np.uint8)
    wide[:, :, 20:60] = 255  # a white centre half: after a centre crop only white remains
    path = write_opencv(tmp_path / "wide.avi", wide, fourcc="MJPG")
    cropped = decode_video(path, num_frames=2, size=20, keep_aspect=True).clips[0].frames
    squashed = decode_video(path, num_frames=2, size=20).clips[0].frames
    assert cropped.min() > 200
    assert squashed[:, :, 0].max() < 60


# --- bad input ---------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        decode_video(tmp_path / "nope.mp4")


def test_directory(tmp_path):
    with pytest.raises(VideoError, match="directory"):
        decode_video(tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(VideoError, match="empty"):
        decode_video(tmp_path / "empty.mp4")


def test_text_renamed_mp4(tmp_path):
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 100)
    with pytest.raises(VideoError, match="not a readable video"):  # neither OpenCV nor the ffmpeg fallback
        decode_video(tmp_path / "notes.mp4")


def test_image_renamed_mp4(tmp_path):
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), frames()[0])
    shutil.copy(image, tmp_path / "photo.mp4")
    with pytest.raises(VideoError):
        decode_video(tmp_path / "photo.mp4")


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=1", "-c:a", "aac", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    with pytest.raises(VideoError):
        decode_video(path)


def test_one_frame_video(tmp_path):
    path = write_opencv(tmp_path / "one.avi", frames(count=1), fourcc="MJPG")
    with pytest.raises(VideoError, match="1 decodable frame"):
        decode_video(path)


@pytest.mark.parametrize("keep", [0.05, 0.3])
def test_truncated_file(tmp_path, keep):
    path = write_ffmpeg(tmp_path / "full.mp4", frames(count=60), codec_args=("-c:v", "libx264", "-pix_fmt", "yuv420p"))
    truncated = tmp_path / "cut.mp4"
    data = path.read_bytes()
    truncated.write_bytes(data[: int(len(data) * keep)])
    started = time.monotonic()
    with pytest.raises(VideoError):
        decode_video(truncated)
    assert time.monotonic() - started < 5


def test_truncated_avi_is_reported_as_truncated(tmp_path):
    path = write_opencv(tmp_path / "full.avi", frames(count=60), fourcc="MJPG")
    data = path.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 4])
    with pytest.raises(VideoError, match="truncated"):
        decode_video(tmp_path / "cut.avi")


def test_file_size_limit_rejects_before_decoding(tmp_path):
    path = write_opencv(tmp_path / "big.avi", frames(count=30), fourcc="MJPG")
    with pytest.raises(VideoTooLargeError, match="limit"):
        decode_video(path, limits=VideoLimits(max_bytes=1000))


def test_duration_limit(tmp_path):
    path = write_opencv(tmp_path / "long.avi", frames(count=60), fps=12.0, fourcc="MJPG")  # 5 s
    with pytest.raises(VideoTooLargeError, match="4 s limit"):
        decode_video(path, limits=VideoLimits(max_duration_s=4))
    assert decode_video(path, limits=VideoLimits(max_duration_s=6)).info.frame_count == 60


def test_still_image_is_a_one_frame_clip(tmp_path):
    image = tmp_path / "photo.jpg"
    cv2.imwrite(str(image), frames()[0])
    video = load_still(image, 32)
    assert video.clips[0].frames.shape == (1, 32, 32, 3)
    (tmp_path / "bad.jpg").write_text("nope")
    with pytest.raises(VideoError, match="not a readable image"):
        load_still(tmp_path / "bad.jpg")
