"""UCF101 from its published archives into the tree ``prepare`` detects, for the chosen classes only.

    <dest>/UCF-101/<Class>/v_<Class>_gNN_cMM.avi
    <dest>/UCF-101/{classInd,trainlist0K,testlist0K}.txt   (restricted to the clips present)

The lists sit at the top of the tree, not in a sub-folder, so that ``prepare --source
<dest>/UCF-101`` detects the UCF101 layout and ``--classes all`` sees only class folders; they
list only what the tree holds, so the tree never claims clips it does not have. The videos come
from the official RAR (``UCF-101/<Class>/...``) or the THUMOS'14 zip (``UCF101/v_...avi``, flat,
and with ``HandstandPushups`` where the lists say ``HandStandPushups``): each archive member is
matched to its list entry by lower-case file name, so both mirrors give the same tree. Classes
already in the tree are kept when more are asked for (the archive stays in the downloads folder,
so that costs an extraction, not a download).
"""

import difflib
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import DatasetError
from core.settings import Settings
from training.data.download.archives import Member, archive_format, extract_members, staged_folder
from training.data.download.mirrors import fetch_first
from training.data.sources import DEFAULT_CLASSES

log = logging.getLogger(__name__)
TREE_NAME = "UCF-101"
CLASS_INDEX = "classInd.txt"
SPLIT_LISTS = tuple(f"{kind}list0{number}.txt" for number in (1, 2, 3) for kind in ("train", "test"))
# Together these two list every clip of UCF101 once.
COVERING_LISTS = ("trainlist01.txt", "testlist01.txt")


@dataclass(frozen=True)
class SplitLists:
    """The published list files, as text (line ends kept as published)."""

    texts: dict[str, str]

    @classmethod
    def from_zip(cls, path: Path) -> "SplitLists":
        try:
            with zipfile.ZipFile(path) as archive:
                by_name = {PurePosixPath(n).name: n for n in archive.namelist()}
                missing = [name for name in (CLASS_INDEX, *SPLIT_LISTS) if name not in by_name]
                if missing:
                    raise DatasetError(f"{path}: not the UCF101 split lists archive (no {', '.join(missing)}).")
                return cls({name: archive.read(by_name[name]).decode("utf-8") for name in (CLASS_INDEX, *SPLIT_LISTS)})
        except zipfile.BadZipFile as error:
            raise DatasetError(f"{path}: damaged zip ({error}); delete it and download it again.") from error

    @property
    def classes(self) -> list[str]:
        return [line.split()[1] for line in self.texts[CLASS_INDEX].splitlines() if len(line.split()) == 2]

    def clips(self) -> dict[str, str]:
        """Lower-case file name -> ``Class/v_Class_gNN_cMM.avi`` as the lists spell it."""
        entries = (line.split()[0] for name in COVERING_LISTS for line in self.texts[name].splitlines() if line.strip())
        return {PurePosixPath(entry).name.lower(): entry for entry in entries}

    def restricted(self, name: str, written: set[str]) -> str:
        """The list ``name`` with only the clips in ``written`` (list entries), or, for classInd, their classes."""
        lines = self.texts[name].splitlines(keepends=True)
        if name == CLASS_INDEX:
            held = {entry.split("/")[0] for entry in written}
            return "".join(line for line in lines if len(line.split()) == 2 and line.split()[1] in held)
        return "".join(line for line in lines if line.strip() and line.split()[0] in written)


@dataclass(frozen=True)
class UCF101Tree:
    root: Path
    classes: list[str]
    clips: int
    video_url: str | None  # None when the tree already held every chosen class


def parse_classes(value: str | None, known: list[str]) -> list[str]:
    """``ten`` (the first-release classes, the default), ``all``, or comma-separated class names."""
    if value == "all":
        return list(known)
    if value in (None, "", "ten"):
        names = list(DEFAULT_CLASSES)
    else:
        names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        hints = [
            name + "".join(f" (did you mean {m}?)" for m in difflib.get_close_matches(name, known, n=1))
            for name in unknown
        ]
        raise DatasetError(f"not UCF101 classes: {', '.join(hints)}. Use ten, all, or names from classInd.txt.")
    return names


def _classes_in_tree(root: Path) -> set[str]:
    """The tree was renamed into place whole, so its class index is the truth about what it holds."""
    index = root / CLASS_INDEX
    if not index.is_file():
        return set()
    return {line.split()[1] for line in index.read_text(encoding="utf-8").splitlines() if len(line.split()) == 2}


def download_ucf101(dest: Path, settings: Settings, classes: str | None = "ten") -> UCF101Tree:
    """Make ``dest/UCF-101`` hold the chosen classes (plus any it already held); downloads what it needs."""
    root = dest / TREE_NAME
    if root.exists() and not (root / CLASS_INDEX).is_file():
        raise DatasetError(
            f"{root} exists and was not made by this command (no {CLASS_INDEX} at its top); it is left alone. "
            "Point prepare at it (--splits for its lists), or choose another --dest."
        )
    _, lists_zip = fetch_first(settings.ucf101_splits_urls, settings.downloads_dir, settings, archive_format)
    lists = SplitLists.from_zip(lists_zip)
    chosen = parse_classes(classes, lists.classes)
    present = _classes_in_tree(root)
    wanted = [name for name in lists.classes if name in present or name in chosen]
    if set(chosen) <= present:
        log.info("%s already holds %s", root, ", ".join(chosen))
        return UCF101Tree(root, wanted, _count_listed(root), None)

    url, archive = fetch_first(settings.ucf101_video_urls, settings.downloads_dir, settings, archive_format)
    entries = lists.clips()
    keep = set(wanted)

    def listed(member: Member) -> str | None:
        return entries.get(PurePosixPath(member.name).name.lower())

    def select(member: Member) -> bool:
        entry = listed(member)
        return entry is not None and entry.split("/")[0] in keep

    with staged_folder(root) as staging:
        unpacked = staging / ".unpacked"
        members = extract_members(archive, unpacked, select)
        for member in members:
            target = staging / str(listed(member))
            target.parent.mkdir(parents=True, exist_ok=True)
            (unpacked / member.name).rename(target)
        shutil.rmtree(unpacked)
        written = {str(listed(member)) for member in members}
        missing = sorted(e for e in entries.values() if e.split("/")[0] in keep and e not in written)
        if missing:
            log.warning("%s lacks %d listed clip(s) of the chosen classes (e.g. %s); they are left out of the lists",
                        archive.name, len(missing), missing[0])  # fmt: skip
        for name in (CLASS_INDEX, *SPLIT_LISTS):
            (staging / name).write_text(lists.restricted(name, written), encoding="utf-8", newline="")
    held = {entry.split("/")[0] for entry in written}
    return UCF101Tree(root, [name for name in wanted if name in held], len(members), url)


def _count_listed(root: Path) -> int:
    return sum(
        1 for name in COVERING_LISTS for line in (root / name).read_text(encoding="utf-8").splitlines() if line.strip()
    )
