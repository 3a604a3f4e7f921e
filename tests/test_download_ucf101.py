"""UCF101 download end to end against a loopback server holding a four-class miniature of the real archives.

The miniature copies what matters of the published files: CRLF lists in ``ucfTrainTestlist/``, the
RAR's ``UCF-101/<Class>/`` folders, the THUMOS'14 zip's flat ``UCF101/`` folder, and the one class
whose file names differ in case between the two (HandStandPushups / HandstandPushups).
"""

import hashlib
import logging

import numpy as np
import pytest

from core.errors import DatasetError, DownloadError
from core.settings import Settings
from testkit.archive_builders import write_rar4, write_zip
from testkit.download_server import FileServer, closed_port_url
from testkit.synthetic import motion_frames, write_opencv
from training.__main__ import main as training_main
from training.data.download.http_fetch import partial_path
from training.data.download.mirrors import local_name
from training.data.download.ucf101 import download_ucf101
from training.data.frame_cache import FrameCache
from training.data.sources import detect_layout, load_source

CLASSES = {
    "ApplyEyeMakeup": "ApplyEyeMakeup",
    "Diving": "Diving",
    "HandstandPushups": "HandStandPushups",
    "Swing": "Swing",
}
TEST_GROUPS, TRAIN_GROUPS = (1, 2), (3, 4, 5, 6)


def _list(lines):
    return "".join(f"{line}\r\n" for line in lines)


def split_files():
    index = {name: number for number, name in enumerate(CLASSES, 1)}
    files = {"classInd.txt": _list(f"{index[c]} {c}" for c in CLASSES)}
    for split, test_groups in ((1, TEST_GROUPS), (2, (3, 4)), (3, (5, 6))):
        groups = {"train": [g for g in (*TEST_GROUPS, *TRAIN_GROUPS) if g not in test_groups], "test": test_groups}
        for kind, numbers in groups.items():
            lines = []
            for folder, name in CLASSES.items():
                for group in numbers:
                    entry = f"{folder}/v_{name}_g{group:02d}_c01.avi"
                    lines.append(f"{entry} {index[folder]}" if kind == "train" else entry)
            files[f"{kind}list0{split}.txt"] = _list(lines)
    return {f"ucfTrainTestlist/{name}": text.encode() for name, text in files.items()}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """(class folder, file name as the lists spell it) -> bytes of a small real AVI."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    result = {}
    for number, (cls, name) in enumerate(CLASSES.items()):
        for group in (*TEST_GROUPS, *TRAIN_GROUPS):
            file = f"v_{name}_g{group:02d}_c01.avi"
            motion = ("Oscillate", "Fall", "Rotate", "Slide")[number]
            result[(cls, file)] = write_opencv(folder / file, motion_frames(motion, rng, (32, 32), 8)).read_bytes()
    return result


@pytest.fixture
def archives(clips, tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    rar = {f"UCF-101/{cls}/{file}": data for (cls, file), data in clips.items()}
    thumos = {
        f"UCF101/{file.replace('HandStandPushups', 'HandstandPushups')}": data for (_, file), data in clips.items()
    }
    return {
        "splits": write_zip(folder / "UCF101TrainTestSplits-RecognitionTask.zip", split_files()),
        "rar": write_rar4(folder / "UCF101.rar", rar),
        "thumos": write_zip(folder / "UCF101_videos.zip", thumos),
    }


@pytest.fixture
def server(archives):
    with FileServer() as running:
        for path in archives.values():
            running.add_file(path)
        yield running


def settings_for(tmp_path, splits, videos, **extra):
    return Settings(
        data_dir=tmp_path / "var",
        ucf101_splits_urls=splits,
        ucf101_video_urls=videos,
        download_connect_timeout_s=1,
        download_read_timeout_s=2,
        **extra,
    )


def files_under(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_official_rar_gives_the_chosen_classes_in_a_tree_prepare_detects(server, clips, tmp_path):
    settings = settings_for(
        tmp_path, [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")], [server.url("/UCF101.rar")]
    )
    tree = download_ucf101(tmp_path / "data", settings, "HandstandPushups,Diving")
    assert tree.root == tmp_path / "data" / "UCF-101" and tree.classes == ["Diving", "HandstandPushups"]
    assert tree.clips == 12 and tree.video_url.endswith("/UCF101.rar")
    videos = {k: v for k, v in files_under(tree.root).items() if k.endswith(".avi")}
    assert videos == {f"{cls}/{file}": data for (cls, file), data in clips.items() if cls in tree.classes}
    lists = {name: (tree.root / name).read_bytes() for name in ("classInd.txt", "trainlist01.txt", "testlist02.txt")}
    assert lists["classInd.txt"] == b"2 Diving\r\n3 HandstandPushups\r\n"  # official numbering, CRLF kept
    assert lists["trainlist01.txt"].count(b"\r\n") == 8 and lists["testlist02.txt"].count(b"\r\n") == 4
    assert detect_layout(tree.root, None) == "ucf101"
    listed = load_source(tree.root, classes=tree.classes)
    assert sorted(c.split for c in listed).count("test") == 4 and len(listed) == 12
    assert {c.path for c in listed} == {str(tree.root / v) for v in videos}
    # the archives stay in the downloads folder; nothing else is left beside the tree
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["UCF-101"]
    assert (settings.downloads_dir / local_name(server.url("/UCF101.rar"))).is_file()


def test_when_the_official_server_is_down_the_thumos_zip_gives_the_same_tree(server, tmp_path, caplog):
    splits = [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")]
    official = download_ucf101(tmp_path / "a", settings_for(tmp_path / "a", splits, [server.url("/UCF101.rar")]), "all")
    server.status["/UCF101.rar"] = 503
    mirrors = [closed_port_url("UCF101.rar"), server.url("/UCF101.rar"), server.url("/UCF101_videos.zip")]
    with caplog.at_level(logging.WARNING):
        mirrored = download_ucf101(tmp_path / "b", settings_for(tmp_path / "b", splits, mirrors), "all")
    assert mirrored.video_url == mirrors[2] and mirrored.classes == list(CLASSES) and mirrored.clips == 24
    assert files_under(mirrored.root) == files_under(official.root)
    assert (mirrored.root / "HandstandPushups" / "v_HandStandPushups_g01_c01.avi").is_file()
    assert sum("trying the next mirror" in m for m in caplog.messages) == 2


def test_more_classes_later_keep_the_earlier_ones_without_a_new_download(server, tmp_path):
    settings = settings_for(
        tmp_path, [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")], [server.url("/UCF101.rar")]
    )
    download_ucf101(tmp_path / "data", settings, "Diving")
    tree = download_ucf101(tmp_path / "data", settings, "Swing")
    assert tree.classes == ["Diving", "Swing"] and tree.clips == 12
    assert sorted(p.name for p in tree.root.iterdir() if p.is_dir()) == ["Diving", "Swing"]
    again = download_ucf101(tmp_path / "data", settings, "Swing")
    assert again.video_url is None and again.clips == 12
    assert [path for path, _ in server.requests].count("/UCF101.rar") == 1


def test_unknown_class_names_are_refused_with_a_suggestion(server, tmp_path):
    settings = settings_for(
        tmp_path, [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")], [server.url("/UCF101.rar")]
    )
    with pytest.raises(DatasetError, match=r"Divng \(did you mean Diving\?\)"):
        download_ucf101(tmp_path / "data", settings, "Divng")
    assert "/UCF101.rar" not in [path for path, _ in server.requests]


def test_an_interrupted_video_download_resumes_on_the_next_run(server, archives, tmp_path):
    rar_url = server.url("/UCF101.rar")
    settings = settings_for(
        tmp_path, [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")], [rar_url], download_retries=0
    )
    server.cut_after["/UCF101.rar"] += [20_000, 0]  # dies mid-file, then sends nothing: the run gives up
    with pytest.raises(DownloadError, match="run the command again to resume"):
        download_ucf101(tmp_path / "data", settings, "all")
    part = partial_path(settings.downloads_dir / local_name(rar_url))
    assert part.stat().st_size == 20_000 and not (tmp_path / "data" / "UCF-101").exists()
    tree = download_ucf101(tmp_path / "data", settings, "all")
    assert tree.clips == 24 and server.requests[-1] == ("/UCF101.rar", "bytes=20000-")
    assert server.body_bytes["/UCF101.rar"] == archives["rar"].stat().st_size


def test_a_wrong_checksum_leaves_no_tree_and_keeps_the_bytes(server, archives, tmp_path):
    rar_url = server.url("/UCF101.rar")
    right = hashlib.sha256(archives["rar"].read_bytes()).hexdigest()
    splits = [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")]
    settings = settings_for(tmp_path, splits, [rar_url], download_sha256={rar_url: "f" * 64})
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_ucf101(tmp_path / "data", settings, "all")
    assert not (tmp_path / "data" / "UCF-101").exists()
    part = partial_path(settings.downloads_dir / local_name(rar_url))
    assert part.read_bytes() == archives["rar"].read_bytes()
    fixed = settings_for(tmp_path, splits, [rar_url], download_sha256={rar_url: right})
    assert download_ucf101(tmp_path / "data", fixed, "all").clips == 24
    assert server.body_bytes["/UCF101.rar"] == archives["rar"].stat().st_size  # verified, not fetched again


def test_download_command_then_prepare(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACTIVITY_UCF101_SPLITS_URLS", f'["{server.url("/UCF101TrainTestSplits-RecognitionTask.zip")}"]')
    monkeypatch.setenv("ACTIVITY_UCF101_VIDEO_URLS", f'["{closed_port_url()}", "{server.url("/UCF101.rar")}"]')
    data_dir = tmp_path / "var"
    assert training_main(["download", "ucf101", "--classes", "Swing,Diving", "--data-dir", str(data_dir)]) == 0
    root = data_dir / "datasets" / "UCF-101"
    printed = capsys.readouterr().out
    assert f"unpacked 12 clips of 2 classes in {root}" in printed
    assert f"next: python -m training prepare --source {root} --classes all" in printed
    prepared = tmp_path / "prepared"
    args = ["prepare", "--source", str(root), "--classes", "all", "--data", str(prepared)]
    assert training_main([*args, "--num-frames", "4", "--size", "32", "--num-clips", "1", "--workers", "1"]) == 0
    cache = FrameCache(prepared)
    assert cache.classes == ["Diving", "Swing"] and len(cache.rows()) == 12 and len(cache.rows("test")) == 4


def test_an_error_page_served_as_the_archive_moves_on_to_the_next_mirror(server, tmp_path):
    server.files["/UCF101.rar"] = b"<html><body>Site under maintenance</body></html>"
    splits = [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")]
    mirrors = [server.url("/UCF101.rar"), server.url("/UCF101_videos.zip")]
    settings = settings_for(tmp_path, splits, mirrors)
    tree = download_ucf101(tmp_path / "data", settings, "Swing")
    assert tree.video_url == mirrors[1] and tree.clips == 6
    assert not (settings.downloads_dir / local_name(mirrors[0])).exists()  # not kept to fail every later run


def test_a_tree_this_command_did_not_make_is_left_alone(server, tmp_path):
    mine = tmp_path / "data" / "UCF-101" / "Swing" / "v_Swing_g01_c01.avi"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own copy")
    settings = settings_for(
        tmp_path, [server.url("/UCF101TrainTestSplits-RecognitionTask.zip")], [server.url("/UCF101.rar")]
    )
    with pytest.raises(DatasetError, match="was not made by this command"):
        download_ucf101(tmp_path / "data", settings, "Swing")
    assert mine.read_bytes() == b"the user's own copy" and server.requests == []
