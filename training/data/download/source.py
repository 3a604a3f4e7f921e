"""What ``setup --source`` accepts: a dataset folder, the name ``ucf101``, or the URL of an archive.

A name or a URL is downloaded (resumable, with mirrors) and unpacked under the data directory
first, so the rest of setup only ever sees a folder.
"""

import logging
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from core.settings import Settings
from training.data.download.archives import archive_format, extract_members, staged_folder
from training.data.download.mirrors import fetch_first
from training.data.download.ucf101 import download_ucf101

log = logging.getLogger(__name__)
DATASET_NAMES = ("ucf101",)
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip", ".rar")


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def is_remote(source: str | Path) -> bool:
    """True for what must be downloaded first; ``./ucf101`` is a folder, ``ucf101`` the dataset."""
    return isinstance(source, str) and (source.lower() in DATASET_NAMES or is_url(source))


def resolve_source(source: str | Path, settings: Settings) -> Path:
    """The local dataset folder for ``source``, downloading and unpacking it when it is a name or a URL."""
    if not is_remote(source):
        return Path(source)
    text = str(source)
    if text.lower() == "ucf101":
        return download_ucf101(settings.datasets_dir, settings).root
    return unpack_url(text, settings, settings.datasets_dir)


def unpack_url(url: str, settings: Settings, datasets_dir: Path) -> Path:
    """Download the archive at ``url`` (into the downloads folder) and unpack it once into
    ``datasets_dir/<archive name>``; returns the dataset root inside it."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name or "dataset"
    stem = next((name[: -len(s)] for s in ARCHIVE_SUFFIXES if name.lower().endswith(s)), name)
    dest = datasets_dir / stem
    if dest.is_dir():  # only a finished extraction is ever renamed to this name
        log.info("%s already unpacked in %s", url, dest)
    else:
        _, archive = fetch_first([url], settings.downloads_dir, settings, archive_format)
        with staged_folder(dest) as staging:
            extract_members(archive, staging)
    return _dataset_root(dest)


def _dataset_root(folder: Path) -> Path:
    """Archives usually wrap the dataset in a top folder (``my_clips/<Label>/...``): descend to the folder
    whose sub-folders are the labels; a lone folder of clips is itself one label, so it is not entered."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and any(p.is_dir() for p in entries[0].iterdir()):
        return _dataset_root(entries[0])
    return folder
