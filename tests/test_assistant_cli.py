"""``python -m assistant``: ask about one clip or a folder, and calibrate on the val split."""

import json
import re
import shutil

from assistant.__main__ import main
from assistant.runtime.calibration import CALIBRATION_FILE, read_calibration


def _global_options(settings) -> list[str]:
    return ["--data-dir", str(settings.data_dir), "--kb-dir", str(settings.kb_dir), "--llm", "offline"]


def test_ask_prints_the_answer_and_the_evidence(assistant_settings, query_clips, capsys):
    assert main([*_global_options(assistant_settings), "ask", str(query_clips["Slide"]), "what is this?"]) == 0
    out = capsys.readouterr().out
    assert "### Slide: " in out
    assert "--- evidence ---" in out and re.search(r"verdict:\s+Slide", out)
    assert "timings:" in out and "decode" in out


def test_ask_on_a_folder_writes_one_json_line_per_video(assistant_settings, query_clips, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for path in query_clips.values():
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not a video")
    (folder / "broken.mp4").write_bytes(b"not really a video")
    code = main([*_global_options(assistant_settings), "ask", str(folder), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one file failed, and the others were still answered
    assert len(lines) == len(query_clips) + 1
    errors = [line for line in lines if "error" in line]
    assert [e["path"].endswith("broken.mp4") for e in errors] == [True]
    answered = {line["evidence"]["source_path"]: line for line in lines if "evidence" in line}
    for label, path in query_clips.items():
        record = answered[str(folder / path.name)]
        assert record["evidence"]["verdict"]["label"] == label
        assert record["answer"].startswith("*Offline answerer")


def test_calibrate_prints_accuracies_side_by_side_and_stores_them(assistant_settings, motion_prepared, capsys):
    assert main([*_global_options(assistant_settings), "calibrate", "--data", str(motion_prepared)]) == 0
    out = capsys.readouterr().out
    for row in ("classifier only", "retrieval only", "fused (weight"):
        assert re.search(rf"{re.escape(row)}.*\s0\.\d{{3}}|{re.escape(row)}.*\s1\.000", out), row
    run_dir = next(assistant_settings.runs_dir.iterdir())
    record = read_calibration(run_dir / CALIBRATION_FILE)
    accuracy = record["accuracy"]
    assert accuracy["classifier only"] >= 0.75
    fused = next(value for key, value in accuracy.items() if key.startswith("fused"))
    assert fused >= max(accuracy["classifier only"], accuracy["retrieval only"])
    assert record["unknown_rate"] <= 0.05 + 1e-9
    assert 0.0 <= record["fusion"]["classifier_weight"] <= 1.0
