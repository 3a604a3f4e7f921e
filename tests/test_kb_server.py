"""The knowledge base on a real ``chroma run`` server: same behaviour and vectors as embedded, fails fast.

The sync, search and edit tests of ``test_knowledge_base`` and ``test_kb_editor`` run again here
against a server on a free loopback port (their ``kb`` and ``editor`` fixtures are overridden
below), so both modes are held to the same expectations. A server that is down, stops, or
accepts connections but never answers gives a ``KnowledgeBaseError`` within the timeout.
"""

import itertools
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

from assistant.jobs.kb_editor import KbEditor
from assistant.service import Assistant
from core.errors import KnowledgeBaseError
from indexing.__main__ import main
from indexing.kb.knowledge_base import KnowledgeBase
from testkit.loopback import free_port, start_chroma_server, stop
from tests.test_kb_editor import (  # noqa: F401  (collected again here, against the server)
    SWING,
    test_create_from_template_then_delete,
    test_invalid_files_are_not_written,
    test_lists_only_plain_markdown_files,
    test_save_syncs_the_new_text_at_once,
)
from tests.test_knowledge_base import (  # noqa: F401  (collected again here, against the server)
    GUITAR,
    PIANO,
    SKYDIVING,
    _write,
    test_a_broken_file_is_reported_and_skipped_not_fatal,
    test_changed_since_sync_notices_a_touched_file,
    test_cli_syncs_and_answers,
    test_retrieval_by_label_and_by_question,
    test_sync_is_incremental_and_counts_exactly_the_changed_sections,
)

# Slow: a Chroma server process; `make check` leaves it out, `make test` runs it.
pytestmark = pytest.mark.slow

_names = itertools.count()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory) -> Iterator[str]:
    process, url = start_chroma_server(tmp_path_factory.mktemp("chroma_server"))
    yield url
    stop(process)


def _collection() -> str:
    """A fresh collection per KB, so tests sharing the server never see each other's passages."""
    return f"kb_test_{next(_names)}"


@pytest.fixture
def kb(tmp_path, chroma_url, monkeypatch) -> KnowledgeBase:
    """test_knowledge_base's KB, on the server (the CLI test finds it through ACTIVITY_CHROMA_URL)."""
    monkeypatch.setenv("ACTIVITY_CHROMA_URL", chroma_url)
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in (("playing_guitar.md", GUITAR), ("playing_piano.md", PIANO), ("sky_diving.md", SKYDIVING)):
        _write(folder, name, text)
    return KnowledgeBase(folder, tmp_path / "chroma", collection=_collection(), chroma_url=chroma_url)


@pytest.fixture(scope="module")
def editor(tmp_path_factory, chroma_url) -> KbEditor:
    """test_kb_editor's editor, on the server."""
    root = tmp_path_factory.mktemp("kb_editor_server")
    (root / "kb").mkdir()
    (root / "kb" / "swing.md").write_text(SWING, encoding="utf-8")
    kb = KnowledgeBase(root / "kb", root / "chroma", collection=_collection(), chroma_url=chroma_url)
    kb.sync()
    return KbEditor(kb)


def test_server_and_embedded_hold_the_same_vectors_and_answer_alike(kb, tmp_path):
    kb.sync()
    embedded = KnowledgeBase(kb.kb_dir, tmp_path / "embedded")
    embedded.sync()
    on_server = kb.collection.get(include=["embeddings"])
    local = embedded.collection.get(include=["embeddings"])
    by_id = dict(zip(local["ids"], local["embeddings"], strict=True))
    assert sorted(on_server["ids"]) == sorted(by_id) and len(by_id) == 7
    for passage_id, vector in zip(on_server["ids"], on_server["embeddings"], strict=True):
        np.testing.assert_allclose(vector, by_id[passage_id], atol=1e-6)
    question = "how can I tell a guitar player from someone at a piano keyboard?"
    served, local_hits = kb.search(question, k=5), embedded.search(question, k=5)
    assert [(p.file, p.section) for p in served] == [(p.file, p.section) for p in local_hits]
    np.testing.assert_allclose([p.score for p in served], [p.score for p in local_hits], atol=1e-5)


def test_the_chroma_url_flag_points_the_cli_at_a_server(chroma_url, tmp_path, capsys):
    (tmp_path / "kb").mkdir()
    _write(tmp_path / "kb", "sky_diving.md", SKYDIVING)
    args = ["kb", "--kb-dir", str(tmp_path / "kb"), "--data-dir", str(tmp_path / "var"), "--search", "parachute"]
    assert main([*args, "--k", "1", "--chroma-url", chroma_url]) == 0
    out = capsys.readouterr().out
    assert f"-> {chroma_url}: " in out and "sky_diving.md > " in out
    assert not (tmp_path / "var" / "chroma" / "chroma.sqlite3").exists()  # nothing embedded
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KnowledgeBaseError, match=f"Chroma server at {dead} is not answering"):
        main(["--chroma-url", dead, *args])


def test_a_server_that_is_down_is_a_clear_error_at_once(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", tmp_path / "chroma", chroma_url=f"http://127.0.0.1:{free_port()}")
    (tmp_path / "kb").mkdir()
    _write(tmp_path / "kb", "sky_diving.md", SKYDIVING)
    start = time.monotonic()
    with pytest.raises(KnowledgeBaseError, match=r"Chroma server at http://127\.0\.0\.1:\d+ is not answering"):
        kb.sync()
    assert time.monotonic() - start < 5


def test_a_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (the OS does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        kb = KnowledgeBase(tmp_path / "kb", tmp_path / "chroma", chroma_url=url, timeout_s=1.0)
        start = time.monotonic()
        with pytest.raises(KnowledgeBaseError, match="ReadTimeout"):
            kb.search("anything")
        assert time.monotonic() - start < 5


def test_a_server_that_stops_mid_life_is_a_clear_error(tmp_path):
    process, url = start_chroma_server(tmp_path / "server")
    try:
        (tmp_path / "kb").mkdir()
        _write(tmp_path / "kb", "sky_diving.md", SKYDIVING)
        kb = KnowledgeBase(tmp_path / "kb", tmp_path / "chroma", chroma_url=url, timeout_s=2.0)
        assert kb.sync().added == 2
        assert kb.search("parachute", k=1)[0].label == "SkyDiving"
    finally:
        stop(process)
    start = time.monotonic()
    with pytest.raises(KnowledgeBaseError, match="not answering.*unset ACTIVITY_CHROMA_URL"):
        kb.search("parachute", k=1)
    assert time.monotonic() - start < 5


# -- answers -------------------------------------------------------------------------------------


def test_answers_come_without_kb_passages_when_the_server_is_down(assistant_settings, query_clips, tmp_path):
    """A replica answers from the server's KB; with the server gone the answer still comes and says why."""
    process, url = start_chroma_server(tmp_path / "server")
    try:
        settings = assistant_settings.model_copy(update={"chroma_url": url})
        KnowledgeBase(settings.kb_dir, tmp_path / "sync_state", chroma_url=url).sync()
        assistant = Assistant(settings)
        evidence, _ = assistant.ask(query_clips["Fall"])
        assert evidence.kb_passages and {p.label for p in evidence.kb_passages} >= {"Fall"}
    finally:
        stop(process)

    start = time.monotonic()
    evidence, answer = assistant.ask(query_clips["Fall"])
    assert time.monotonic() - start < 60
    assert evidence.verdict.label == "Fall" and not evidence.kb_passages
    assert "the knowledge base could not be read" in answer and url in answer

    # A replica started while the server is down says so too, as a missing part.
    evidence, answer = Assistant(settings).ask(query_clips["Fall"])
    assert evidence.verdict.label == "Fall" and not evidence.kb_passages
    missing = {part.name: part.reason for part in evidence.missing}
    assert "is not answering" in missing["knowledge base"] and "knowledge base" in answer
