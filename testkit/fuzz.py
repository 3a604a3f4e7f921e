"""A seeded corpus of damaged videos: mutations of small synthetic clips, made at test time.

What a decoder meets in the wild: bit flips in the body and in the header, files cut off
(also inside an MP4 ``moov`` box, where the index lives), zeroed or shuffled blocks, garbage
appended, box and RIFF sizes that claim gigabytes, a one-byte file, one file's header glued to
another file's body, an AVI whose header claims 2**31 frames. The same seed gives the same bytes,
so a failure found once is found again; tests and benchmarks (``benchmarks/soak.py``) share it.
"""

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from testkit.synthetic import MOTIONS, motion_frames, write_ffmpeg, write_opencv

Mutation = Callable[[bytes, np.random.Generator], bytes]
FPS = 12.0
FRAMES = 48  # 4 s at 12 fps: long enough for damage to sit somewhere in the middle
HEADER_BYTES = 512


@dataclass(frozen=True)
class FuzzCase:
    path: Path
    mutation: str
    base: str  # the clip it was made from ("mjpeg.avi", "mpeg4.avi", "h264.mp4")


def write_bases(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Three intact clips of different containers and codecs: the material every mutation starts from."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = [motion_frames(MOTIONS[n % len(MOTIONS)], rng, (64, 64), FRAMES) for n in range(3)]
    return {
        "mjpeg.avi": write_opencv(folder / "mjpeg.avi", frames[0], fps=FPS),
        "mpeg4.avi": write_ffmpeg(folder / "mpeg4.avi", frames[1], fps=FPS, codec_args=("-c:v", "mpeg4", "-g", "12")),
        "h264.mp4": write_ffmpeg(
            folder / "h264.mp4", frames[2], fps=FPS, codec_args=("-c:v", "libx264", "-g", "12", "-pix_fmt", "yuv420p")
        ),
    }


# -- mutations of one file ----------------------------------------------------------------------


def flip_bits(data: bytes, rng: np.random.Generator, start: int, count: int) -> bytes:
    buffer = bytearray(data)
    for offset in rng.integers(min(start, len(data) - 1), len(data), count):
        buffer[offset] ^= 1 << int(rng.integers(8))
    return bytes(buffer)


def bit_flips_in_body(data: bytes, rng: np.random.Generator) -> bytes:
    return flip_bits(data, rng, len(data) // 5, int(rng.integers(5, 40)))


def bit_flips_in_header(data: bytes, rng: np.random.Generator) -> bytes:
    buffer = bytearray(data)
    for offset in rng.integers(0, min(HEADER_BYTES, len(data)), int(rng.integers(2, 8))):
        buffer[offset] ^= 1 << int(rng.integers(8))
    return bytes(buffer)


def truncate(share: float) -> Mutation:
    def cut(data: bytes, rng: np.random.Generator) -> bytes:
        return data[: max(1, int(len(data) * share))]

    return cut


def zero_block(data: bytes, rng: np.random.Generator) -> bytes:
    length = int(rng.integers(256, 4096))
    start = int(rng.integers(len(data) // 8, max(len(data) // 8 + 1, len(data) - length)))
    return data[:start] + bytes(min(length, len(data) - start)) + data[start + length :]


def shuffle_blocks(data: bytes, rng: np.random.Generator) -> bytes:
    """The body cut in 1 KiB blocks, shuffled; the first block (the header) stays in place."""
    blocks = [data[i : i + 1024] for i in range(0, len(data), 1024)]
    body = blocks[1:]
    order = rng.permutation(len(body))
    return blocks[0] + b"".join(body[i] for i in order)


def append_garbage(data: bytes, rng: np.random.Generator) -> bytes:
    return data + rng.integers(0, 256, int(rng.integers(1000, 50_000)), dtype=np.uint8).tobytes()


def one_byte(data: bytes, rng: np.random.Generator) -> bytes:
    return data[:1]


# -- container-aware mutations ------------------------------------------------------------------


def mp4_boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level MP4 boxes: type -> (offset, size)."""
    boxes, offset = {}, 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            break
        boxes[kind] = (offset, size)
        offset += size
    return boxes


def truncate_inside_moov(data: bytes, rng: np.random.Generator) -> bytes:
    offset, size = mp4_boxes(data)[b"moov"]
    return data[: offset + int(rng.integers(8, size))]


def absurd_box_size(kind: bytes) -> Mutation:
    """A top-level box claiming 4 GiB (the most a 32-bit size can say)."""

    def claim(data: bytes, rng: np.random.Generator) -> bytes:
        offset, _ = mp4_boxes(data)[kind]
        return data[:offset] + struct.pack(">I", 0xFFFFFFFF) + data[offset + 4 :]

    return claim


def absurd_riff_size(data: bytes, rng: np.random.Generator) -> bytes:
    return data[:4] + struct.pack("<I", 0xFFFFFFF0) + data[8:]


def avi_claims_frames(count: int) -> Mutation:
    """The main AVI header's total frames and the video stream header's length both say ``count``."""

    def claim(data: bytes, rng: np.random.Generator) -> bytes:
        buffer = bytearray(data)
        avih = data.index(b"avih") + 8  # chunk id, chunk size, then MainAVIHeader
        buffer[avih + 16 : avih + 20] = struct.pack("<I", count)  # dwTotalFrames
        strh = data.index(b"strh") + 8  # AVIStreamHeader: ... dwStart, dwLength at 32
        buffer[strh + 32 : strh + 36] = struct.pack("<I", count)
        return bytes(buffer)

    return claim


# -- the corpus ---------------------------------------------------------------------------------

ANY = ("mjpeg.avi", "mpeg4.avi", "h264.mp4")
AVI = ("mjpeg.avi", "mpeg4.avi")
MUTATIONS: list[tuple[str, Mutation, tuple[str, ...], int]] = [
    # name, mutation, bases it applies to, copies per base (each with its own seed)
    ("bitflips-body", bit_flips_in_body, ANY, 4),
    ("bitflips-header", bit_flips_in_header, ANY, 2),
    ("truncated-10pc", truncate(0.1), ANY, 1),
    ("truncated-50pc", truncate(0.5), ANY, 1),
    ("truncated-90pc", truncate(0.9), ANY, 1),
    ("truncated-in-moov", truncate_inside_moov, ("h264.mp4",), 3),
    ("zeroed-block", zero_block, ANY, 2),
    ("shuffled-blocks", shuffle_blocks, ANY, 1),
    ("appended-garbage", append_garbage, ANY, 1),
    ("moov-claims-4gb", absurd_box_size(b"moov"), ("h264.mp4",), 1),
    ("mdat-claims-4gb", absurd_box_size(b"mdat"), ("h264.mp4",), 1),
    ("riff-claims-4gb", absurd_riff_size, AVI, 1),
    ("claims-2e31-frames", avi_claims_frames(2**31), AVI, 1),
    ("one-byte", one_byte, ("mjpeg.avi",), 1),
]


def glued(header_of: bytes, body_of: bytes) -> bytes:
    """The first ``HEADER_BYTES`` of one file followed by the rest of another."""
    return header_of[:HEADER_BYTES] + body_of[HEADER_BYTES:]


def make_fuzz_corpus(folder: Path, seed: int = 0) -> list[FuzzCase]:
    """Every mutation of every base it applies to, plus headers glued to other files' bodies."""
    bases = write_bases(folder / "bases", seed)
    originals = {name: path.read_bytes() for name, path in bases.items()}
    rng = np.random.default_rng(seed)
    cases = []

    def write(name: str, data: bytes, mutation: str, base: str) -> None:
        path = folder / f"{len(cases):02d}_{name}"
        path.write_bytes(data)
        cases.append(FuzzCase(path, mutation, base))

    for mutation, mutate, applies_to, copies in MUTATIONS:
        for base in applies_to:
            for copy in range(copies):
                stem, suffix = base.split(".")
                write(f"{mutation}-{stem}-{copy}.{suffix}", mutate(originals[base], rng), mutation, base)
    for header_base, body_base in (("mjpeg.avi", "mpeg4.avi"), ("mpeg4.avi", "mjpeg.avi"), ("h264.mp4", "mjpeg.avi")):
        stem, suffix = header_base.split(".")
        data = glued(originals[header_base], originals[body_base])
        write(f"glued-{stem}-on-{body_base.split('.')[0]}.{suffix}", data, "glued", header_base)
    return cases
