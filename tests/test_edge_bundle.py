"""The answering bundle (issue 22): written on the full install, answered from in a venv without torch.

A fresh virtual environment gets only ``pip install '.[edge]'``; in it ``import torch`` fails, and
``python -m assistant --bundle DIR ask`` and ``app.py --bundle DIR`` must give the answers the full
install gives for the same clips. The bundle itself must refuse damage with the file's name and
never be left half-written.
"""

import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from assistant.jobs import bundle_writer
from assistant.runtime.bundle import BUNDLE_FILE, Bundle
from assistant.service import Assistant
from assistant.ui import playable
from core.errors import ArtifactError
from core.settings import Settings
from testkit.app_harness import private_copy
from testkit.edge_venv import make_edge_venv
from testkit.loopback import free_port

pytestmark = pytest.mark.slow
ANSWER_TOLERANCE = 1e-3  # probabilities: ONNX Runtime and torch agree to ~1e-6 on these models


@pytest.fixture(scope="module")
def bundled(assistant_settings, tmp_path_factory) -> tuple[Settings, Path, dict]:
    """A private copy of the assistant's data directory (the export lands in it) and its bundle."""
    root = tmp_path_factory.mktemp("bundled")
    settings = private_copy(assistant_settings, root).model_copy(update={"runtime": "torch"})
    record = bundle_writer.write_bundle(settings, root / "bundle")
    return settings, root / "bundle", record


@pytest.fixture(scope="module")
def edge_python(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("edge")
    return make_edge_venv(root / "venv", root)


def _edge_env() -> dict[str, str]:
    """The environment without anything pointing at the working tree or the full install's venv."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("ACTIVITY_")}
    return {**env, "ACTIVITY_LLM_PROVIDER": "offline"}


def test_edge_install_has_no_torch(edge_python):
    for module in ("torch", "torchvision", "chromadb", "sentence_transformers"):
        result = subprocess.run([str(edge_python), "-c", f"import {module}"], capture_output=True, text=True)
        assert result.returncode != 0 and f"No module named '{module}'" in result.stderr


def test_edge_answers_like_the_full_install(edge_python, bundled, query_clips, tmp_path):
    settings, bundle, _ = bundled
    folder = tmp_path / "clips"
    folder.mkdir()
    for clip in query_clips.values():
        (folder / clip.name).write_bytes(clip.read_bytes())
    result = subprocess.run(
        [str(edge_python), "-m", "assistant", "--bundle", str(bundle), "ask", str(folder), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the working tree: the installed package answers
        env=_edge_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(query_clips)
    full = Assistant(settings, llm="offline")
    named = 0
    for line in lines:
        edge = line["evidence"]
        reference = full.analyse(Path(edge["source_path"])).model_dump(mode="json")
        assert edge["verdict"]["label"] == reference["verdict"]["label"]
        assert edge["classifier"]["checkpoint_path"].endswith("runs/cnn3d_motion/export.json")
        for ours, theirs in zip(edge["classifier"]["top_k"], reference["classifier"]["top_k"], strict=True):
            assert ours["label"] == theirs["label"]
            assert abs(ours["probability"] - theirs["probability"]) < ANSWER_TOLERANCE
        for ours, theirs in zip(edge["fused"], reference["fused"], strict=True):
            assert ours["label"] == theirs["label"]
            assert abs(ours["probability"] - theirs["probability"]) < ANSWER_TOLERANCE
        assert [n["clip_id"] for n in edge["retrieval"]["neighbours"]] == [
            n["clip_id"] for n in reference["retrieval"]["neighbours"]
        ]
        passages = [(p["file"], p["section"]) for p in edge["kb_passages"]]
        assert passages == [(p["file"], p["section"]) for p in reference["kb_passages"]]
        assert edge["verdict"]["label"] in line["answer"]
        named += edge["verdict"]["label"] == Path(edge["source_path"]).stem.removeprefix("query_")
    assert named >= 3  # the bundle answers, not just agrees: most motions are named right


def test_edge_app_answers_from_the_bundle(edge_python, bundled, query_clips, tmp_path):
    _, bundle, _ = bundled
    project = edge_python.parents[2] / "project"  # the sources the venv was installed from: a user's checkout
    port = free_port()
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(
        [str(edge_python), "app.py", "--bundle", str(bundle), "--port", str(port), "--llm", "offline"],
        cwd=project,
        env=_edge_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert app.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        client = Client(url, verbose=False)
        chat, _, verdict, *_ = client.predict(
            handle_file(str(query_clips["Rotate"])), "What is happening in this clip?", [], api_name="/ask"
        )
        assert "Rotate" in verdict and "Rotate" in json.dumps(chat)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        names = {endpoint.lstrip("/") for endpoint in endpoints}
        assert "ask" in names and "kb_save" not in names and "add_examples" not in names
        frames, _, summary = client.predict(handle_file(str(query_clips["Rotate"])), "Rotate", api_name="/explain")
        assert frames == []
        assert "full install" in summary
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "app.log").read_text()


def test_full_install_commands_say_what_they_need(edge_python, tmp_path):
    result = subprocess.run(
        [str(edge_python), "-m", "assistant", "setup", "--source", "clips/"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_edge_env(),
        timeout=120,
    )
    assert result.returncode == 1
    assert "`setup` needs the full install" in result.stderr and "pip install '.[full]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bundle_record_lists_every_file(bundled):
    _, bundle, record = bundled
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file() and p.name != ".lock"}
    assert on_disk - {BUNDLE_FILE} == set(record["files"])
    assert record["classifier"]["precision"] == "fp32" and record["classifier"]["parity"]["passes"]
    assert record["index"]["vectors"] > 0 and record["kb"]["passages"] >= 4
    assert record["settings"]["window_s"] == 2.0  # the settings the library answers with travel along
    opened = Settings(bundle=bundle)
    assert (opened.data_dir, opened.kb_dir, opened.runtime, opened.window_s) == (bundle, bundle / "kb", "onnx", 2.0)
    assert Settings(bundle=bundle, window_s=3.0).window_s == 3.0  # a flag still wins
    assert all((bundle / name).stat().st_mode & 0o044 for name in record["files"])  # readable by the service user


def test_damaged_bundle_is_refused_with_the_file_named(bundled, tmp_path):
    _, bundle, _ = bundled
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(bundle), str(copy)], check=True)
    victim = copy / "frame_encoder.onnx"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="frame_encoder.onnx is .* bytes"):
        Bundle.open(copy)
    (copy / BUNDLE_FILE).unlink()
    with pytest.raises(ArtifactError, match="not an answering bundle"):
        Bundle.open(copy)
    with pytest.raises(ArtifactError, match="not an answering bundle"):
        Bundle.open(tmp_path / "nowhere")


def test_bundle_write_never_replaces_other_things_or_leaves_half(bundled, tmp_path, monkeypatch):
    settings, _, _ = bundled
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not a bundle")
    with pytest.raises(ArtifactError, match="not an answering bundle"):
        bundle_writer.write_bundle(settings, foreign)
    assert [p.name for p in foreign.iterdir()] == ["holiday.jpg"]

    out = tmp_path / "bundle"
    first = bundle_writer.write_bundle(settings, out)

    def fail(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bundle_writer, "export_minilm", fail)
    with pytest.raises(OSError, match="disk full"):
        bundle_writer.write_bundle(settings, out)
    assert json.loads((out / BUNDLE_FILE).read_text())["created"] == first["created"]
    Bundle.open(out)  # the previous bundle, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_zipped_bundle(bundled, tmp_path):
    settings, _, _ = bundled
    archive = tmp_path / "edge.zip"
    record = bundle_writer.write_bundle(settings, archive)
    with zipfile.ZipFile(archive) as opened:
        assert set(opened.namelist()) == {*record["files"], BUNDLE_FILE}
        opened.extractall(tmp_path / "unzipped")
    assert Bundle.open(tmp_path / "unzipped").record["created"] == record["created"]
    with pytest.raises(ArtifactError, match="unzip it first"):
        Bundle.open(archive)


def test_without_ffmpeg_an_upload_shows_as_it_is(query_clips, tmp_path, monkeypatch):
    """The edge install has no ffmpeg binary: an AVI upload gets no H.264 preview, and no error either."""
    monkeypatch.setattr(playable, "ffmpeg_exe", lambda: str(tmp_path / "no-ffmpeg-here"))
    clip = tmp_path / "upload.avi"
    clip.write_bytes(query_clips["Fall"].read_bytes())
    assert playable.playable_preview(clip) == clip
    assert [p.name for p in tmp_path.iterdir()] == ["upload.avi"]  # no half-written preview left
