"""Archive extraction: zip, tar.gz and RAR give the same files; selection, damage and a missing tool."""

import shutil
from collections import namedtuple

import pytest

from core.errors import DatasetError
from testkit.archive_builders import write_rar4, write_tar_gz, write_zip
from training.data.download.archives import archive_format, extract_members, list_members, staged_folder

FILES = {
    "clips/Swing/v_Swing_g01_c01.avi": b"swing-1" * 300,
    "clips/Swing/v_Swing_g02_c01.avi": b"swing-2" * 200,
    "clips/Diving/v_Diving_g01_c01.avi": b"diving" * 500,
}
WRITERS = {"zip": write_zip, "tar": write_tar_gz, "rar": write_rar4}


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", WRITERS)
def test_every_format_unpacks_the_same_files(kind, tmp_path):
    archive = WRITERS[kind](tmp_path / f"a.{kind}", FILES)
    assert archive_format(archive) == kind
    assert sorted((m.name, m.size) for m in list_members(archive)) == sorted((n, len(d)) for n, d in FILES.items())
    extract_members(archive, tmp_path / "out")
    assert tree(tmp_path / "out") == FILES


@pytest.mark.parametrize("kind", WRITERS)
def test_only_the_selected_members_are_written(kind, tmp_path):
    archive = WRITERS[kind](tmp_path / f"a.{kind}", FILES)
    chosen = extract_members(archive, tmp_path / "out", lambda m: "/Diving/" in m.name)
    assert [m.name for m in chosen] == ["clips/Diving/v_Diving_g01_c01.avi"]
    assert tree(tmp_path / "out") == {"clips/Diving/v_Diving_g01_c01.avi": FILES["clips/Diving/v_Diving_g01_c01.avi"]}


def test_a_damaged_rar_member_fails_and_leaves_no_tree_that_looks_complete(tmp_path):
    archive = write_rar4(tmp_path / "a.rar", FILES)
    data = bytearray(archive.read_bytes())
    data[data.index(b"diving") + 10] ^= 0xFF  # one flipped byte: the member's CRC no longer matches
    archive.write_bytes(bytes(data))
    dest = tmp_path / "dataset"
    with pytest.raises(DatasetError, match="Wrong checksum"):
        with staged_folder(dest) as staging:
            extract_members(archive, staging)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.rar"]  # the staging folder is gone too


def test_staged_folder_replaces_the_old_tree_only_on_success(tmp_path):
    dest = tmp_path / "dataset"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(dest) as staging:
        (staging / "new.txt").write_text("new")
        raise RuntimeError("interrupted")
    assert tree(dest) == {"old.txt": b"old"}
    with staged_folder(dest) as staging:
        (staging / "new.txt").write_text("new")
    assert tree(dest) == {"new.txt": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_without_unar_a_rar_is_a_clear_error(tmp_path, monkeypatch):
    archive = write_rar4(tmp_path / "a.rar", FILES)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DatasetError, match="`lsar` is not installed; install the Debian package unar"):
        extract_members(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", WRITERS)
def test_members_that_would_land_outside_the_folder_are_refused(kind, tmp_path):
    evil = WRITERS[kind](tmp_path / f"evil.{kind}", {"../outside.txt": b"x", "fine/inside.txt": b"y"})
    with pytest.raises(DatasetError, match=r"unsafe member path \(../outside.txt\)"):
        extract_members(evil, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "out" / "fine").exists()


def test_a_file_that_is_no_archive_is_refused(tmp_path):
    (tmp_path / "page.zip").write_text("<html>404 not found</html>")
    with pytest.raises(DatasetError, match="not a zip, tar or rar archive"):
        extract_members(tmp_path / "page.zip", tmp_path / "out")


def test_not_enough_disk_space_to_unpack_is_a_clear_error_before_writing(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / "a.zip", FILES)
    free = sum(len(data) for data in FILES.values())  # the files fit, the safety margin does not
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - free, free))
    with pytest.raises(DatasetError, match=r"not enough disk space for unpacking a.zip: it needs 0.0 MB in .*, only"):
        extract_members(archive, tmp_path / "out")
    assert not any((tmp_path / "out").rglob("*"))
