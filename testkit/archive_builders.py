"""Small zip, tar.gz and RAR archives built from ``{path inside the archive: bytes}``.

No RAR writer is free software, so ``write_rar4`` writes the RAR 4 format itself with members
stored uncompressed (method 0x30): a valid archive, with per-member CRCs, that unar and libarchive
read like any other.
"""

import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

RAR4_MARKER = b"Rar!\x1a\x07\x00"
DOS_TIME_2025 = 0x5A210000  # 2025-01-01 00:00 in MS-DOS date/time


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _rar_block(head_type: int, flags: int, body: bytes, data: bytes = b"") -> bytes:
    header = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header + data


def write_rar4(path: Path, files: dict[str, bytes]) -> Path:
    blocks = [RAR4_MARKER, _rar_block(0x73, 0, bytes(6))]  # archive header
    for name, data in files.items():
        raw = name.replace("/", "\\").encode()
        # pack size, unpacked size, host OS (MS-DOS), CRC32, time, version 2.0, method "store", name size, attributes
        body = struct.pack(
            "<IIBIIBBHI", len(data), len(data), 0, zlib.crc32(data), DOS_TIME_2025, 20, 0x30, len(raw), 0x20
        )
        blocks.append(_rar_block(0x74, 0x8000, body + raw, data))  # 0x8000: data follows the header
    blocks.append(_rar_block(0x7B, 0x4000, b""))  # end of archive
    path.write_bytes(b"".join(blocks))
    return path
