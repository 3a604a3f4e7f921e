"""The running app, driven over HTTP with gradio_client exactly as a browser or a script would.

The app serves a private copy of the assistant fixtures (a cnn3d trained on the synthetic
motions, its frame index and a KB describing the motions) on 127.0.0.1 with a free port.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from testkit.app_harness import private_copy, running_app, write_checkerboard_clip


@pytest.fixture(scope="module")
def app(assistant_settings, tmp_path_factory):
    settings = private_copy(assistant_settings, tmp_path_factory.mktemp("app"))
    with running_app(settings) as url:
        yield url, settings


def client(app) -> Client:
    return Client(app[0], verbose=False)


def text(message: dict) -> str:
    """A chat message's text; gradio 6 sends content as a list of parts."""
    content = message["content"]
    return content if isinstance(content, str) else "\n".join(part.get("text", "") for part in content)


def ask(session: Client, clip, question: str = "What is happening in this clip?", history=None) -> dict:
    chat, question_box, verdict, labels, gallery, passages, _ = session.predict(
        handle_file(str(clip)), question, history or [], api_name="/ask"
    )
    return {"chat": chat, "question": question_box, "verdict": verdict, "labels": labels, "gallery": gallery,
            "passages": passages, "answer": text(chat[-1])}  # fmt: skip


def test_ask_names_the_activity_with_its_evidence(app, query_clips):
    reply = ask(client(app), query_clips["Fall"])
    assert [m["role"] for m in reply["chat"]] == ["user", "assistant"]
    assert text(reply["chat"][0]) == "What is happening in this clip?"
    assert "### Fall" in reply["answer"] and "[kb/fall.md § How it looks on video]" in reply["answer"]
    assert reply["labels"]["label"] == "Fall"
    confidences = {c["label"]: c["confidence"] for c in reply["labels"]["confidences"]}
    assert set(confidences) == {"Fall", "Oscillate", "Rotate", "Slide"}
    assert confidences["Fall"] == max(confidences.values()) and sum(confidences.values()) == pytest.approx(1, abs=0.01)
    assert reply["verdict"].startswith("### Fall ·")
    assert len(reply["gallery"]) == 10
    for item in reply["gallery"]:
        label, score, *near_copies = item["caption"].split(" · ")  # "Fall · 0.93[ · and 3 near-copies]"
        assert label in confidences and 0 < float(score) <= 1
        assert near_copies == [] or near_copies[0].endswith("near-copies")
        assert item["image"].endswith(".jpg")
    assert "**kb/fall.md** › How it looks on video" in reply["passages"]
    assert reply["question"] == ""  # cleared for a follow-up


def test_follow_ups_continue_the_same_chat(app, query_clips):
    session = client(app)
    first = ask(session, query_clips["Rotate"])
    second = ask(session, query_clips["Rotate"], "What could it be confused with?", first["chat"])
    assert len(second["chat"]) == 4 and second["chat"][:2] == first["chat"][:2]
    assert "recognised as **Rotate**" in second["answer"]
    assert "What could it be confused with?" in second["answer"]
    chat, *_ = session.predict("How does it look on video?", second["chat"], api_name="/follow_up")
    assert len(chat) == 6 and "recognised as **Rotate**" in text(chat[-1])
    # Each answer offers follow-up questions about the recognised activity.
    assert {"value": "What could Rotate be confused with?"} in chat[-1]["options"]


def test_kb_edits_in_the_app_or_outside_are_quoted_by_the_next_answer(app, query_clips):
    session = client(app)
    original = session.predict("fall.md", api_name="/kb_read")[0]
    line = "- Motion: the bar moves straight down at a steady speed."
    assert line in original
    edited = original.replace(line, "- Motion: the bar drops like a stone into a zebra-striped basket.")
    status, _ = session.predict("fall.md", edited, api_name="/kb_save")
    assert status.startswith("✔ Saved `kb/fall.md`") and "updated 1" in status
    assert "zebra-striped basket" in (app[1].kb_dir / "fall.md").read_text(encoding="utf-8")

    reply = ask(client(app), query_clips["Fall"])
    assert "zebra-striped basket" in reply["answer"]

    # An edit made outside the app (in a text editor) is noticed before the next answer.
    path = app[1].kb_dir / "fall.md"
    path.write_text(edited.replace("zebra-striped basket", "polka-dot bucket"), encoding="utf-8")
    reply = ask(client(app), query_clips["Fall"])
    assert "polka-dot bucket" in reply["answer"] and "zebra-striped basket" not in reply["answer"]


def test_a_new_activity_is_found_by_its_labelled_examples(app, tmp_path):
    example = write_checkerboard_clip(tmp_path / "checkerboard_1.avi")
    session = client(app)
    result, status, _ = session.predict([handle_file(str(example))], "Checkerboard", api_name="/add_examples")
    assert result.startswith("✔ Added 1 clip(s) as **Checkerboard**: checkerboard_1")
    assert "no knowledge-base file for Checkerboard" in result
    assert "labels: Checkerboard, Fall" in status

    created = session.predict("Checkerboard", api_name="/kb_new")
    assert created[3].startswith("✔ Created `kb/checkerboard.md`")

    reply = ask(client(app), example)
    best = reply["gallery"][0]["caption"].split(" · ")
    assert best[0] == "Checkerboard" and float(best[1]) > 0.9

    *_, status = session.predict("checkerboard.md", api_name="/kb_delete")
    assert status.startswith("✔ Deleted `kb/checkerboard.md`") and not (app[1].kb_dir / "checkerboard.md").exists()


def test_unsafe_names_and_non_videos_are_refused_readably(app, tmp_path):
    session = client(app)
    status, _ = session.predict("../evil.md", "---\nlabel: Evil\n---\n## What it is\n\nx\n", api_name="/kb_save")
    assert "'../evil.md' is not an allowed knowledge-base file name" in status
    assert not (app[1].kb_dir.parent / "evil.md").exists()
    _, _, status = session.predict("../../etc/passwd", api_name="/kb_read")
    assert "is not an allowed knowledge-base file name" in status

    for name, content in (("notes.txt", "just text"), ("renamed.mp4", "not really a video")):
        path = tmp_path / name
        path.write_text(content)
        reply = ask(client(app), path)
        assert reply["answer"].startswith("⚠️ Could not analyse this clip:")
        assert "Traceback" not in reply["answer"] and not reply["labels"] and not reply["gallery"]

    # The example uploader takes videos only: gradio itself refuses other files, in words.
    with pytest.raises(AppError, match="Invalid file type"):
        session.predict([handle_file(str(tmp_path / "notes.txt"))], "Notes", api_name="/add_examples")
    result, _, _ = session.predict([handle_file(str(tmp_path / "renamed.mp4"))], "Notes", api_name="/add_examples")
    assert result.startswith("⚠️") and "renamed.mp4" in result and "Traceback" not in result


def test_eight_concurrent_questions_all_get_answers(app, query_clips):
    jobs = [query_clips[label] for label in ("Oscillate", "Fall", "Rotate", "Slide") * 2]
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda clip: ask(client(app), clip), jobs))
    for clip, reply in zip(jobs, replies, strict=True):
        label = clip.stem.removeprefix("query_")
        assert reply["labels"]["label"] == label
        assert f"### {label}" in reply["answer"] and "**Sources:**" in reply["answer"]


def test_library_status_and_switching_the_model(app):
    session = client(app)
    status, banner = session.predict(api_name="/status")
    assert "| classifier | ✔ `cnn3d` · 4 classes (Fall, Oscillate, Rotate, Slide)" in status
    assert "| knowledge base | ✔ 4 activities" in status and banner == ""

    message, active, _ = session.predict("cnn3d_motion", api_name="/set_active")
    assert message == "✔ Now answering with `cnn3d_motion`." and "**Active:** `cnn3d_motion`" in active
    assert (app[1].data_dir / "active_checkpoint.txt").read_text().strip().endswith("cnn3d_motion/checkpoint.pt")
    message, _, _ = session.predict("../cnn3d_motion", api_name="/set_active")
    assert message.startswith("⚠️ '../cnn3d_motion' is not a trained run")


def test_every_endpoint_names_its_inputs_and_outputs(app):
    """A script writer reads ``view_api()``: no output or parameter is a generic ``value_N``."""
    session = client(app)
    described = session.view_api(print_info=False, return_format="str")
    endpoints = session.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/follow_up", "/explain", "/kb_save", "/add_examples", "/status", "/set_active"} <= set(endpoints)
    assert re.findall(r"\bvalue_\d+", described) == []
    for info in endpoints.values():
        assert all(item["label"] for item in info["parameters"] + info["returns"])
    ask_outputs = (
        "conversation, question, verdict, top_activities_classifier_and_similar_clips_fused, "
        "most_similar_known_clips_bestmatching_frame__similarity, kb_passages, timeline_of_a_long_clip"
    )
    assert f'api_name="/ask") -> ({ask_outputs})' in described
