"""``setup --source`` with a name or a URL: downloaded and unpacked first, then the usual steps.

These stop at the first step that needs real clips, so they cost a download from 127.0.0.1, not
a training run; tests/test_setup_pipeline.py runs the full chain on a folder.
"""

from pathlib import Path

import pytest
from gradio_client import Client

from assistant.__main__ import main as assistant_main
from core.cli import run_cli
from core.settings import Settings
from testkit.app_harness import running_app
from testkit.archive_builders import write_tar_gz, write_zip
from testkit.download_server import FileServer
from training.data.download.source import is_remote, resolve_source
from training.data.sources import detect_layout, load_source

CLIPS = {
    f"my_clips/{label}/v_{label}_g0{group}_c01.avi": f"{label}{group}".encode() * 50
    for label in ("Jump", "Run")
    for group in (1, 2, 3)
}


def test_names_and_urls_are_remote_paths_are_not():
    assert is_remote("ucf101") and is_remote("UCF101") and is_remote("https://example.org/clips.zip")
    assert not is_remote("./ucf101") and not is_remote(Path("ucf101")) and not is_remote("/data/clips")


@pytest.mark.parametrize("writer, name", [(write_zip, "clips.zip"), (write_tar_gz, "clips.tar.gz")])
def test_an_archive_url_becomes_its_dataset_folder_once(writer, name, tmp_path):
    archive = writer(tmp_path / name, CLIPS)
    settings = Settings(data_dir=tmp_path / "var")
    with FileServer() as server:
        url = server.add_file(archive)
        root = resolve_source(url, settings)
        assert root == settings.datasets_dir / "clips" / "my_clips"  # the wrapping folder is looked through
        assert resolve_source(url, settings) == root
        assert len(server.requests) == 1  # the second call used the unpacked tree
    assert {p.relative_to(root.parent).as_posix(): p.read_bytes() for p in root.rglob("*.avi")} == CLIPS
    assert detect_layout(root, None) == "folder"
    assert sorted({c.label for c in load_source(root)}) == ["Jump", "Run"]


def test_setup_command_downloads_the_url_then_prepares_from_it(tmp_path, capsys):
    archive = write_zip(tmp_path / "notes.zip", {"notes/Jump/readme.txt": b"no clips here"})
    with FileServer() as server:
        url = server.add_file(archive)
        assert run_cli(assistant_main, ["--data-dir", str(tmp_path / "var"), "setup", "--source", url]) == 1
    unpacked = tmp_path / "var" / "datasets" / "notes" / "notes"
    # prepare got the unpacked folder: the download step ran first and handed it on
    assert f"error: {unpacked}: no video clips found" in capsys.readouterr().err
    assert (unpacked / "Jump" / "readme.txt").read_bytes() == b"no clips here"
    assert not (tmp_path / "var" / "runs").exists()


def test_setup_command_without_a_source_says_what_to_give(tmp_path, capsys):
    assert run_cli(assistant_main, ["--data-dir", str(tmp_path / "var"), "setup"]) == 1
    assert "setup needs --source: a dataset folder, ucf101, or the URL of an archive." in capsys.readouterr().err


def test_the_library_tab_ucf101_button_downloads_first(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "jump.md").write_text("---\nlabel: Jump\n---\n# Jump\n\n## What it is\n\nJumping.\n", encoding="utf-8")
    with FileServer() as server:
        server.status["/UCF101TrainTestSplits-RecognitionTask.zip"] = 503
        settings = Settings(
            data_dir=tmp_path / "var",
            kb_dir=kb,
            ucf101_splits_urls=[server.url("/UCF101TrainTestSplits-RecognitionTask.zip")],
            download_connect_timeout_s=1,
        )
        with running_app(settings) as url:
            message, _, _ = Client(url, verbose=False).predict(1, api_name="/setup_ucf101")
        assert server.requests == [("/UCF101TrainTestSplits-RecognitionTask.zip", None)]
    assert message.startswith("⚠️") and "every source failed" in message and "HTTP 503" in message
