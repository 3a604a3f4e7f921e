"""The answering bundle's knowledge base: all-MiniLM-L6-v2 as ONNX, and the KB as two plain files.

Both answer like the full install's sentence-transformers and Chroma, refuse broken files by
name, and load in a process where torch, sentence-transformers, transformers and chromadb
cannot be imported.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import KnowledgeBaseError
from indexing.kb.kb_snapshot import EMBEDDINGS_FILE, PASSAGES_FILE, SnapshotCollection
from indexing.kb.knowledge_base import KnowledgeBase
from indexing.kb.minilm_onnx import MODEL_FILE, RECORD_FILE, OnnxMiniLM, export_minilm
from indexing.kb.snapshot_writer import write_kb_snapshot
from indexing.kb.text_embedder import minilm_embedding_function
from testkit.assistant_data import write_kb

REPO = Path(__file__).resolve().parents[1]
LONG = " ".join(f"The diver number {i} springs from the board, twists and enters the water." for i in range(40))
TEXTS = [
    "",
    "Surfing",
    "How is diving different from skydiving?",
    "Café crème à Zürich: naïve façade, Ægir,東京の空, emoji 🙂",
    "  leading and trailing   spaces\n\tand a tab  ",
    LONG,  # ~600 tokens: both sides cut it at max_seq_length
    "x " * 253,  # right at the limit
    "UPPER case Words, punctuation!?; (brackets) [1, 2, 3] and numbers 3.14159",
]
QUESTIONS = [
    "what is happening in this clip?",
    "how is diving different from skydiving?",
    "is this a guitar or a piano?",
    "something falls from the top of the frame",
    "safety",
    "a bar moving sideways back and forth",
]


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory) -> Path:
    return export_minilm(tmp_path_factory.mktemp("minilm") / "minilm")


@pytest.fixture(scope="module")
def minilm(minilm_dir) -> OnnxMiniLM:
    return OnnxMiniLM(minilm_dir)


@pytest.fixture(scope="module")
def chroma_kb(tmp_path_factory) -> KnowledgeBase:
    """The test motion KB plus the product's own kb/ files, synced into Chroma (62 passages)."""
    root = tmp_path_factory.mktemp("full")
    kb_dir = write_kb(root / "kb")
    for path in sorted((REPO / "kb").glob("*.md")):
        shutil.copy(path, kb_dir / path.name)
    kb = KnowledgeBase(kb_dir, root / "chroma")
    kb.sync()
    return kb


@pytest.fixture(scope="module")
def snapshot_dir(chroma_kb, tmp_path_factory) -> Path:
    return write_kb_snapshot(chroma_kb, tmp_path_factory.mktemp("bundle") / "kb_snapshot")


@pytest.fixture(scope="module")
def snapshot_kb(chroma_kb, snapshot_dir, minilm) -> KnowledgeBase:
    return KnowledgeBase.from_snapshot(chroma_kb.kb_dir, snapshot_dir, minilm)


def _cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_minilm_matches_sentence_transformers(minilm, snapshot_dir):
    assert len(minilm.tokenizer.encode(LONG).ids) == minilm.max_seq_length == 256
    documents = json.loads((snapshot_dir / PASSAGES_FILE).read_text(encoding="utf-8"))["documents"]
    texts = TEXTS + documents
    ours = minilm(texts)
    reference = minilm_embedding_function()(texts)
    assert len(ours) == len(texts) and all(v.shape == (384,) and v.dtype == np.float32 for v in ours)
    cosines = _cosines(ours, reference)
    assert cosines.min() >= 0.9999, dict(zip(texts, cosines, strict=True))
    assert np.allclose(np.linalg.norm(np.stack(ours), axis=1), 1.0, atol=1e-5)
    # One text alone, or in a batch of others padded to a longer one, gives the same vector.
    assert _cosines(minilm(["Surfing"]), ours[1:2])[0] >= 0.99999


def _same_passages(ours, theirs):
    def shown(passages):
        return [(p.file, p.section, p.label, p.text) for p in passages]

    assert shown(ours) == shown(theirs)
    assert np.allclose([p.score for p in ours], [p.score for p in theirs], atol=1e-4)


@pytest.mark.parametrize("question", QUESTIONS)
def test_snapshot_search_answers_like_chroma(chroma_kb, snapshot_kb, question):
    _same_passages(snapshot_kb.search(question, 8), chroma_kb.search(question, 8))
    for labels in (["Diving", "skydiving"], ["guitar"], ["Fall", "Slide", "NotAnActivity"]):
        _same_passages(snapshot_kb.search(question, 4, labels=labels), chroma_kb.search(question, 4, labels=labels))


def test_snapshot_reads_like_chroma(chroma_kb, snapshot_kb):
    assert snapshot_kb.passage_count() == chroma_kb.passage_count() == 62
    assert snapshot_kb.entries() == chroma_kb.entries()
    for name in ("Diving", "springboard diving", "GUITAR", "sliding bar", "Oscillate", "nothing like it"):
        assert snapshot_kb.resolve_label(name) == chroma_kb.resolve_label(name)
    for label in [*chroma_kb.entries(), "keyboard", "Unknown"]:
        _same_passages(snapshot_kb.passages_for_label(label, k=7), chroma_kb.passages_for_label(label, k=7))
    assert snapshot_kb.search("anything", 0) == [] and not snapshot_kb.changed_since_sync()


def test_snapshot_collection_follows_chromas_answers(chroma_kb, snapshot_kb):
    ours, theirs = snapshot_kb.collection, chroma_kb.collection
    stored = theirs.get(include=["documents", "metadatas", "embeddings"])
    mine = ours.get(include=["documents", "metadatas", "embeddings"])
    assert (mine["ids"], mine["documents"], mine["metadatas"]) == (
        stored["ids"],
        stored["documents"],
        stored["metadatas"],
    )
    assert np.array_equal(mine["embeddings"], np.asarray(stored["embeddings"], dtype=np.float32))
    queries = [mine["embeddings"][0], mine["embeddings"][5]]
    for where in (None, {"label": "Diving"}, {"label": {"$in": ["Fall", "Surfing"]}}, {"label": "Nobody"}):
        got = ours.query(query_embeddings=queries, n_results=5, where=where)
        want = theirs.query(
            query_embeddings=queries, n_results=5, where=where, include=["documents", "metadatas", "distances"]
        )
        assert got["ids"] == want["ids"] and got["metadatas"] == want["metadatas"]
        assert all(np.allclose(g, w, atol=1e-5) for g, w in zip(got["distances"], want["distances"], strict=True))
    with pytest.raises(KnowledgeBaseError, match="filters only by"):
        ours.get(where={"$and": [{"label": "Fall"}, {"file": "fall.md"}]})
    with pytest.raises(KnowledgeBaseError, match="384"):
        ours.query(query_embeddings=[[0.1] * 10], n_results=3)


def test_the_snapshot_is_read_only(snapshot_kb):
    with pytest.raises(KnowledgeBaseError, match="read-only; edit kb/ on the full install"):
        snapshot_kb.sync()
    with pytest.raises(KnowledgeBaseError, match="read-only"):
        snapshot_kb.collection.upsert(ids=["x"], documents=["x"])
    with pytest.raises(KnowledgeBaseError, match="read-only"):
        snapshot_kb.collection.delete(ids=["x"])


def test_an_empty_kb_snapshots_to_an_empty_one(minilm, tmp_path):
    (tmp_path / "kb").mkdir()
    empty = KnowledgeBase(tmp_path / "kb", tmp_path / "chroma")
    kb = KnowledgeBase.from_snapshot(empty.kb_dir, write_kb_snapshot(empty, tmp_path / "snapshot"), minilm)
    assert (kb.passage_count(), kb.entries(), kb.search("anything"), kb.passages_for_label("Fall")) == (0, {}, [], [])


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_broken_snapshots_are_refused_by_name(snapshot_dir, tmp_path):
    with pytest.raises(KnowledgeBaseError, match="snapshot folder .*missing"):
        SnapshotCollection(tmp_path / "nowhere")

    truncated = _copy(snapshot_dir, tmp_path / "truncated")
    data = (truncated / EMBEDDINGS_FILE).read_bytes()
    (truncated / EMBEDDINGS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(KnowledgeBaseError, match=f"{EMBEDDINGS_FILE} is truncated"):
        SnapshotCollection(truncated)

    fewer = _copy(snapshot_dir, tmp_path / "fewer")
    passages = json.loads((fewer / PASSAGES_FILE).read_text(encoding="utf-8"))
    passages["record"]["count"] -= 1
    for key in ("ids", "documents", "metadatas"):
        passages[key] = passages[key][:-1]
    (fewer / PASSAGES_FILE).write_text(json.dumps(passages), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=rf"{EMBEDDINGS_FILE} holds float32 \(62, 384\).*\(61, 384\)"):
        SnapshotCollection(fewer)
    passages["record"]["count"] += 1  # says 62, lists 61
    (fewer / PASSAGES_FILE).write_text(json.dumps(passages), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=f"{PASSAGES_FILE} is inconsistent"):
        SnapshotCollection(fewer)

    narrow = _copy(snapshot_dir, tmp_path / "narrow")
    np.save(narrow / EMBEDDINGS_FILE, np.zeros((62, 383), dtype=np.float32))
    with pytest.raises(KnowledgeBaseError, match=rf"{EMBEDDINGS_FILE} holds float32 \(62, 383\)"):
        SnapshotCollection(narrow)
    np.save(narrow / EMBEDDINGS_FILE, np.zeros((62, 384), dtype=np.float32))  # right shape, other vectors
    with pytest.raises(KnowledgeBaseError, match=f"{EMBEDDINGS_FILE} is not the file {PASSAGES_FILE} was written"):
        SnapshotCollection(narrow)

    garbled = _copy(snapshot_dir, tmp_path / "garbled")
    (garbled / PASSAGES_FILE).write_text('{"record": {"count": 62,', encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=f"{PASSAGES_FILE} is not a knowledge-base snapshot"):
        SnapshotCollection(garbled)
    (garbled / PASSAGES_FILE).unlink()
    with pytest.raises(KnowledgeBaseError, match=f"{PASSAGES_FILE} is missing"):
        SnapshotCollection(garbled)


def test_broken_model_folders_are_refused_by_name(minilm_dir, tmp_path):
    with pytest.raises(KnowledgeBaseError, match="sentence model folder .*missing.*export_minilm"):
        OnnxMiniLM(tmp_path / "nowhere")
    unfinished = _copy(minilm_dir, tmp_path / "unfinished")
    (unfinished / RECORD_FILE).unlink()
    with pytest.raises(KnowledgeBaseError, match=f"{RECORD_FILE} is missing: the export .* did not finish"):
        OnnxMiniLM(unfinished)
    truncated = _copy(minilm_dir, tmp_path / "truncated")
    with open(truncated / MODEL_FILE, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(KnowledgeBaseError, match=f"{MODEL_FILE} is missing or not the file"):
        OnnxMiniLM(truncated)


BLOCKED = ("torch", "sentence_transformers", "transformers", "chromadb")
WITHOUT_FULL_INSTALL = f"""
import json, sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"{{name}} is not installed on the small machine (test)")
        return None

sys.meta_path.insert(0, Blocked())
import indexing.kb.knowledge_base
from indexing.kb.kb_snapshot import SnapshotCollection
from indexing.kb.minilm_onnx import OnnxMiniLM

kb_dir, snapshot_dir, model_dir, question = sys.argv[1:]
kb = indexing.kb.knowledge_base.KnowledgeBase.from_snapshot(kb_dir, snapshot_dir, OnnxMiniLM(model_dir))
passages = [[p.file, p.section, p.score] for p in kb.search(question, 5)]
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {BLOCKED!r})
print(json.dumps({{"passages": passages, "loaded": loaded}}))
"""


def test_the_reading_side_needs_no_torch_nor_chromadb(chroma_kb, snapshot_dir, minilm_dir):
    question = "how is diving different from skydiving?"
    paths = [str(chroma_kb.kb_dir), str(snapshot_dir), str(minilm_dir)]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_FULL_INSTALL, *paths, question],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["loaded"] == []
    expected = chroma_kb.search(question, 5)
    assert [tuple(p[:2]) for p in answer["passages"]] == [(p.file, p.section) for p in expected]
    assert np.allclose([p[2] for p in answer["passages"]], [p.score for p in expected], atol=1e-4)
