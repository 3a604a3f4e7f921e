"""Unpacking a downloaded archive (zip, tar, tar.gz/bz2/xz, rar), all of it or only chosen members.

zip and tar use the standard library (paths that escape the folder are refused: zipfile strips
them, tarfile's ``data`` filter rejects them). RAR needs an external tool: ``unar`` (Debian
package ``unar``, installed by ``make``). It is the one extractor in Debian's main archive that
reads RAR 4 archives, solid ones included, and UCF101.rar is a RAR 4 archive (2012). Checked on
RAR 3/4/5 samples: Debian's ``7zip`` has the RAR codec removed (it cannot open any RAR), and
libarchive (``bsdtar``, ``unrar-free``, the ``libarchive-c`` wheel) stops at the second member of a
solid RAR 4 archive. unar also checks each member's CRC and extracts members by index, so only
the chosen classes are written. Its limit: Debian 12's unar 1.10 fails on some RAR 5 archives
(libarchive reads those); a RAR 5 URL given to ``setup --source`` may need repacking as zip.

Members are unpacked into a staging folder beside the destination that is renamed into place
last (``staged_folder``): a failed or interrupted extraction leaves no tree that looks complete.
"""

import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from core.errors import DatasetError
from training.data.download.disk_space import ensure_free_space

log = logging.getLogger(__name__)
RAR_TOOL_HINT = "install the Debian package unar (`make setup` does it; or `sudo apt-get install unar`)"


@dataclass(frozen=True)
class Member:
    name: str  # path inside the archive, with forward slashes
    size: int
    key: str  # how the extractor addresses it (the name, or unar's index)


def archive_format(path: Path) -> str:
    """'zip', 'tar' or 'rar', from the file's first bytes rather than its name (mirrors name files oddly)."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise DatasetError(f"{path}: not a zip, tar or rar archive. Check the URL points at the archive itself.")


def list_members(path: Path) -> list[Member]:
    """The regular files in the archive."""
    kind = archive_format(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            return [Member(i.filename, i.file_size, i.filename) for i in archive.infolist() if not i.is_dir()]
    if kind == "tar":
        with tarfile.open(path, "r:*") as archive:
            return [Member(m.name, m.size, m.name) for m in archive.getmembers() if m.isfile()]
    return _rar_members(path)


def extract_members(path: Path, folder: Path, select: Callable[[Member], bool] | None = None) -> list[Member]:
    """Write the chosen members under ``folder`` (keeping their paths); returns them."""
    members = [m for m in list_members(path) if select is None or select(m)]
    unsafe = [m.name for m in members if m.name.startswith("/") or ".." in PurePosixPath(m.name).parts]
    if unsafe:  # the tools would rename or strip these; refusing them is the same rule for every format
        raise DatasetError(f"{path}: refused an unsafe member path ({unsafe[0]}); the archive is not a dataset.")
    if not members:
        raise DatasetError(f"{path}: nothing to extract (no member matches the selection).")
    ensure_free_space(folder, sum(m.size for m in members), f"unpacking {path.name}")
    kind = archive_format(path)
    with tqdm(total=sum(m.size for m in members), unit="B", unit_scale=True, unit_divisor=1024,
              desc=f"unpacking {path.name}") as bar:  # fmt: skip
        if kind == "zip":
            _extract_zip(path, folder, members, bar)
        elif kind == "tar":
            _extract_tar(path, folder, members, bar)
        else:
            _extract_rar(path, folder, members, bar)
    return members


@contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """A fresh folder beside ``dest`` that replaces it only when the block finishes without error."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        yield staging
        if dest.exists():
            old = staging.with_suffix(".old")
            dest.rename(old)
            staging.rename(dest)
            shutil.rmtree(old)
        else:
            staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_zip(path: Path, folder: Path, members: list[Member], bar: tqdm) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for member in members:
                archive.extract(member.key, folder)
                bar.update(member.size)
    except (zipfile.BadZipFile, OSError) as error:  # BadZipFile includes a member's CRC mismatch
        raise DatasetError(f"{path}: damaged zip archive ({error}). Delete it and download it again.") from error


def _extract_tar(path: Path, folder: Path, members: list[Member], bar: tqdm) -> None:
    wanted = {m.key for m in members}
    try:
        with tarfile.open(path, "r:*") as archive:
            for info in archive:  # one pass: a compressed tar has no cheap random access
                if info.name in wanted:
                    archive.extract(info, folder, filter="data")
                    bar.update(info.size)
    except tarfile.FilterError as error:
        raise DatasetError(f"{path}: refused an unsafe member ({error}).") from error
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetError(f"{path}: damaged tar archive ({error}). Delete it and download it again.") from error


def _rar_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise DatasetError(f"cannot unpack RAR archives: `{name}` is not installed; {RAR_TOOL_HINT}.")
    return tool


def _rar_members(path: Path) -> list[Member]:
    result = subprocess.run([_rar_tool("lsar"), "-j", str(path)], capture_output=True, text=True)
    listing = json.loads(result.stdout or "{}")
    if result.returncode != 0 or listing.get("lsarError"):
        raise DatasetError(f"{path}: cannot read the RAR archive ({result.stderr.strip() or 'lsar failed'}).")
    return [
        Member(entry["XADFileName"], int(entry.get("XADFileSize", 0)), str(entry["XADIndex"]))
        for entry in listing.get("lsarContents", [])
        if not entry.get("XADIsDirectory") and not entry.get("XADIsLink")
    ]


# unar prints one line per member: "  UCF-101/Swing/v_Swing_g01_c01.avi  (123 B)... OK."
_UNAR_LINE = re.compile(r"\((\d+) B\)\.\.\. (.*)$")


def _extract_rar(path: Path, folder: Path, members: list[Member], bar: tqdm) -> None:
    command = [_rar_tool("unar"), "-no-directory", "-force-overwrite", "-no-recursion", "-forks", "skip"]
    command += ["-output-directory", str(folder), "-indexes", str(path), *[m.key for m in members]]
    failures = []
    # C locale: unar's messages stay in English for the pattern above.
    env = os.environ | {"LC_ALL": "C"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as process:
        assert process.stdout is not None
        for line in process.stdout:
            match = _UNAR_LINE.search(line.rstrip())
            if match:
                bar.update(int(match.group(1)))
                if not match.group(2).startswith("OK"):
                    failures.append(line.strip())
        code = process.wait()
    if code != 0 or failures:
        detail = "; ".join(failures[:3]) or f"unar exited with status {code}"
        raise DatasetError(f"{path}: extraction failed ({detail}). Delete the archive and download it again.")
