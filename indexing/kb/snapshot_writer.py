"""Write the KB's Chroma collection as the two plain files ``kb_snapshot`` reads (full install).

Apart from ``kb_snapshot`` so the reader, which ``KnowledgeBase`` imports, imports nothing of the KB back.
"""

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.atomic import atomic_write_bytes, atomic_write_json
from indexing.kb.kb_snapshot import EMBEDDINGS_FILE, PASSAGES_FILE
from indexing.kb.text_embedder import DIM, MODEL_NAME

if TYPE_CHECKING:
    from indexing.kb.knowledge_base import KnowledgeBase


def write_kb_snapshot(kb: "KnowledgeBase", out_dir: Path) -> Path:
    """Every passage the KB's collection holds (as last synced) into ``out_dir``; returns ``out_dir``."""
    stored = kb.collection.get(include=["documents", "metadatas", "embeddings"])
    ids = list(stored["ids"])
    embeddings = np.zeros((0, DIM), dtype=np.float32)
    if ids:
        embeddings = np.asarray(stored["embeddings"], dtype=np.float32).reshape(len(ids), -1)
    buffer = io.BytesIO()
    np.save(buffer, embeddings, allow_pickle=False)
    out_dir = Path(out_dir)
    atomic_write_bytes(out_dir / EMBEDDINGS_FILE, buffer.getvalue())
    record = {
        "model": MODEL_NAME,
        "dim": int(embeddings.shape[1]),
        "count": len(ids),
        "embeddings_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    passages = {"ids": ids, "documents": list(stored["documents"]), "metadatas": list(stored["metadatas"])}
    atomic_write_json(out_dir / PASSAGES_FILE, {"record": record, **passages})
    return out_dir
