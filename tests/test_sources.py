"""Dataset sources: UCF101 lists (CRLF), plain folders and CSV files, all split by whole groups."""

import json
from collections import Counter
from pathlib import Path

import pytest

from core.errors import DatasetError
from training.data.sources import DEFAULT_CLASSES, load_source


def touch_videos(root: Path, labels, groups, clips_per_group=3) -> list[str]:
    entries = []
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
        for g in groups:
            for c in range(1, clips_per_group + 1):
                name = f"v_{label}_g{g:02d}_c{c:02d}.avi"
                (root / label / name).write_bytes(b"x")
                entries.append(f"{label}/{name}")
    return entries


def write_ucf_lists(folder: Path, train: list[str], test: list[str], classes: list[str], newline="\r\n"):
    folder.mkdir(parents=True, exist_ok=True)
    class_ind = {label: i + 1 for i, label in enumerate(classes)}
    (folder / "classInd.txt").write_bytes(
        newline.join(f"{i} {label}" for label, i in class_ind.items()).encode() + newline.encode()
    )
    (folder / "trainlist01.txt").write_bytes(
        newline.join(f"{e} {class_ind[e.split('/')[0]]}" for e in train).encode() + newline.encode()
    )
    (folder / "testlist01.txt").write_bytes(newline.join(test).encode() + newline.encode())


def groups_by_split(clips) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for clip in clips:
        result.setdefault(clip.split, set()).add(clip.group)
    return result


def assert_group_disjoint(clips):
    groups = groups_by_split(clips)
    splits = list(groups)
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            assert not groups[a] & groups[b], f"{a} and {b} share groups"


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_ucf101_official_lists(tmp_path, newline):
    labels = ["Surfing", "Diving", "ApplyEyeMakeup"]
    test_entries = touch_videos(tmp_path, labels, range(1, 8))
    train_entries = touch_videos(tmp_path, labels, range(8, 26))
    write_ucf_lists(tmp_path / "ucfTrainTestlist", train_entries, test_entries, labels, newline)

    clips = load_source(tmp_path, "auto", classes=["Surfing", "Diving"])
    assert {c.label for c in clips} == {"Surfing", "Diving"}
    assert all(Path(c.path).is_file() for c in clips)
    test = [c for c in clips if c.split == "test"]
    assert len(test) == 2 * 7 * 3 and all("_g0" in c.path for c in test)
    val = [c for c in clips if c.split == "val"]
    # 15% of the 18 training groups = 3 groups, the same group numbers for every class.
    assert len(val) == 2 * 3 * 3
    assert len({c.group.split("/g")[1] for c in val}) == 3
    assert_group_disjoint(clips)
    assert not any(c.path.endswith("\r") for c in clips)


def test_ucf101_default_filter_is_the_first_release_classes(tmp_path):
    labels = ["Surfing", "ApplyEyeMakeup"]
    write_ucf_lists(
        tmp_path,
        touch_videos(tmp_path, labels, range(8, 10), clips_per_group=1),
        touch_videos(tmp_path, labels, range(1, 3), clips_per_group=1),
        labels,
    )
    with pytest.raises(DatasetError, match="no clips for class"):
        load_source(tmp_path, "ucf101")  # the other nine default classes are absent
    clips = load_source(tmp_path, "ucf101", classes=["Surfing"])
    assert {c.label for c in clips} == {"Surfing"} and len(clips) == 4
    assert len(DEFAULT_CLASSES) == 10 and "Surfing" in DEFAULT_CLASSES


def test_folder_split_is_stratified_group_aware_and_seeded(tmp_path):
    touch_videos(tmp_path, ["A", "B", "C"], range(1, 11), clips_per_group=2)
    clips = load_source(tmp_path, "folder", seed=3)
    counts = Counter((c.label, c.split) for c in clips)
    for label in "ABC":
        assert counts[(label, "train")] == 12 and counts[(label, "val")] == 4 and counts[(label, "test")] == 4
    assert_group_disjoint(clips)
    assert clips == load_source(tmp_path, "folder", seed=3)
    assert clips != load_source(tmp_path, "folder", seed=4)


def test_folder_without_groups_splits_clip_by_clip(tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(20):
            (tmp_path / label / f"{i}.mp4").write_bytes(b"x")
    (tmp_path / "cat" / "notes.txt").write_text("not a video")
    (tmp_path / "cat" / ".hidden.mp4").write_bytes(b"x")
    clips = load_source(tmp_path, "folder")
    assert len(clips) == 40
    counts = Counter(c.split for c in clips)
    assert counts == {"train": 28, "val": 6, "test": 6}


def test_csv_layout(tmp_path):
    entries = touch_videos(tmp_path / "videos", ["Surfing", "Diving"], range(1, 7), clips_per_group=2)
    header = "clip_name,clip_path,label\n"
    rows = [f"{Path(e).stem},/videos/{e},{e.split('/')[0]}\n" for e in entries]
    (tmp_path / "train.csv").write_text(header + "".join(r for r in rows if "_g01_" not in r and "_g02_" not in r))
    (tmp_path / "val.csv").write_text(header + "".join(r for r in rows if "_g02_" in r))
    (tmp_path / "test.csv").write_text(header + "".join(r for r in rows if "_g01_" in r))
    clips = load_source(tmp_path, "auto")
    assert Counter(c.split for c in clips) == {"train": 16, "val": 4, "test": 4}
    assert all(Path(c.path).is_file() for c in clips)
    (tmp_path / "val.csv").unlink()
    clips = load_source(tmp_path, "csv")
    assert Counter(c.split for c in clips)["val"] > 0
    assert_group_disjoint(clips)


def test_csv_with_unknown_columns_is_explained(tmp_path):
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    (tmp_path / "test.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="no column among"):
        load_source(tmp_path, "csv")


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_source(tmp_path / "nothing")


def test_prepared_classes_json_is_sorted_and_stable(prepared_synthetic):
    classes = json.loads((prepared_synthetic / "classes.json").read_text())["classes"]
    assert classes == sorted(classes) == ["Fall", "Oscillate", "Rotate", "Slide"]
