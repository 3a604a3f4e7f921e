"""The knowledge base as two plain files, searchable without chromadb: the answering bundle's KB.

``snapshot_writer.write_kb_snapshot`` (full install) copies every passage of the KB's Chroma collection into
``kb_embeddings.npy`` (float32, one row per passage) and ``kb_passages.json`` (ids, documents,
metadatas and a record: count, dimension, model, the embeddings' sha256), the JSON last, so a
folder whose two files do not belong together is refused. ``SnapshotCollection`` answers the
part of Chroma's collection API that ``KnowledgeBase`` reads with (``count``, ``get``,
``query``) with Chroma's semantics: the same where-clauses, cosine distance (exact, numpy) and
order; ``KnowledgeBase.from_snapshot`` puts it behind the usual reading methods.
"""

import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import KnowledgeBaseError
from indexing.kb.text_embedder import DIM, MODEL_NAME

PASSAGES_FILE = "kb_passages.json"  # written last: it names the embeddings file's hash
EMBEDDINGS_FILE = "kb_embeddings.npy"
READ_ONLY = "The bundle's knowledge base is read-only; edit kb/ on the full install and write the bundle again."
_REWRITE = "write the bundle again on the full install"
_COLUMNS = ("documents", "metadatas", "embeddings")


def _load(folder: Path) -> tuple[dict, np.ndarray]:
    """The passages JSON and the embeddings, each checked against the record; ``KnowledgeBaseError`` otherwise."""
    passages_path, embeddings_path = folder / PASSAGES_FILE, folder / EMBEDDINGS_FILE
    if not folder.is_dir():
        raise KnowledgeBaseError(f"The knowledge-base snapshot folder {folder} is missing; {_REWRITE}.")
    try:
        passages = json.loads(passages_path.read_text(encoding="utf-8"))
        record = passages["record"]
        count, dim = int(record["count"]), int(record["dim"])
        columns = [passages[key] for key in ("ids", "documents", "metadatas")]
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{passages_path} is missing; {_REWRITE}.") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise KnowledgeBaseError(f"{passages_path} is not a knowledge-base snapshot ({error}); {_REWRITE}.") from error
    if (record.get("model"), dim) != (MODEL_NAME, DIM):
        raise KnowledgeBaseError(
            f"{passages_path} holds {record.get('model')} vectors of dimension {dim}, not {MODEL_NAME}'s {DIM}; "
            f"{_REWRITE}."
        )
    if any(not isinstance(column, list) or len(column) != count for column in columns) or not all(
        isinstance(meta, dict) for meta in passages["metadatas"]
    ):
        raise KnowledgeBaseError(
            f"{passages_path} is inconsistent (its ids, documents and metadatas are not {count} each); {_REWRITE}."
        )
    try:
        data = embeddings_path.read_bytes()
        embeddings = np.load(io.BytesIO(data), allow_pickle=False)
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{embeddings_path} is missing; {_REWRITE}.") from None
    except (OSError, ValueError, EOFError) as error:
        raise KnowledgeBaseError(f"{embeddings_path} is truncated or not a .npy file ({error}); {_REWRITE}.") from error
    if embeddings.dtype != np.float32 or embeddings.shape != (count, dim):
        raise KnowledgeBaseError(
            f"{embeddings_path} holds {embeddings.dtype} {embeddings.shape}, but {passages_path.name} records "
            f"float32 ({count}, {dim}); {_REWRITE}."
        )
    if hashlib.sha256(data).hexdigest() != record.get("embeddings_sha256"):
        raise KnowledgeBaseError(
            f"{embeddings_path} is not the file {passages_path.name} was written with; {_REWRITE}."
        )
    return passages, embeddings


def _matcher(where: dict | None):
    """Chroma's ``{"key": value}`` and ``{"key": {"$in": [...]}}`` as a predicate on metadata; nothing else."""
    if where is None:
        return lambda meta: True
    if isinstance(where, dict) and len(where) == 1:
        ((key, condition),) = where.items()
        if not key.startswith("$") and isinstance(condition, str | int | float | bool):
            return lambda meta: key in meta and meta[key] == condition
        if not key.startswith("$") and isinstance(condition, dict) and list(condition) == ["$in"]:
            allowed = condition["$in"]
            if isinstance(allowed, list):
                return lambda meta: key in meta and meta[key] in allowed
    raise KnowledgeBaseError(
        f"The bundle's knowledge base filters only by {{key: value}} or {{key: {{'$in': [...]}}}}, not {where!r}."
    )


def _check_include(include: Iterable[str], allowed: Sequence[str]) -> list[str]:
    include = list(include)
    unknown = [item for item in include if item not in allowed]
    if unknown:
        raise KnowledgeBaseError(f"The bundle's knowledge base cannot include {unknown}; it has {list(allowed)}.")
    return include


class SnapshotCollection:
    """A read-only stand-in for the KB's Chroma collection, loaded from ``write_kb_snapshot``'s files."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        passages, self._embeddings = _load(self.folder)
        self._ids, self._documents, self._metadatas = passages["ids"], passages["documents"], passages["metadatas"]
        self.dim = self._embeddings.shape[1]
        norms = np.linalg.norm(self._embeddings.astype(np.float64), axis=1)
        self._unit = self._embeddings / np.maximum(norms, 1e-12)[:, None]

    def count(self) -> int:
        return len(self._ids)

    def _rows(self, where: dict | None) -> list[int]:
        matches = _matcher(where)
        return [row for row, meta in enumerate(self._metadatas) if matches(meta)]

    def _column(self, key: str, rows: list[int]) -> Any:
        if key == "documents":
            return [self._documents[row] for row in rows]
        if key == "metadatas":
            return [dict(self._metadatas[row]) for row in rows]
        return self._embeddings[rows]

    def get(self, *, where: dict | None = None, include: Iterable[str] = ("documents", "metadatas")) -> dict:
        """The passages matching ``where``, in stored order, like ``chromadb.Collection.get``."""
        include = _check_include(include, _COLUMNS)
        rows = self._rows(where)
        columns = {key: self._column(key, rows) if key in include else None for key in _COLUMNS}
        return {"ids": [self._ids[row] for row in rows], **columns, "include": include}

    def query(
        self,
        *,
        query_embeddings: Sequence[Sequence[float]] | np.ndarray,
        n_results: int = 10,
        where: dict | None = None,
        include: Iterable[str] = ("documents", "metadatas", "distances"),
    ) -> dict:
        """Per query, the ``n_results`` nearest passages, closest first (cosine distance ``1 - cos``), like Chroma."""
        include = _check_include(include, (*_COLUMNS, "distances"))
        queries = np.asarray(query_embeddings, dtype=np.float64)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise KnowledgeBaseError(
                f"Query embeddings of shape {queries.shape} for a knowledge base of {self.dim}-d {MODEL_NAME} vectors."
            )
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        candidates = np.array(self._rows(where), dtype=np.int64)
        result: dict[str, Any] = {"ids": []} | {key: [] if key in include else None for key in (*_COLUMNS, "distances")}
        for query in queries:
            distances = 1.0 - self._unit[candidates] @ query
            best = np.argsort(distances, kind="stable")[: max(n_results, 0)]
            rows = candidates[best].tolist()
            result["ids"].append([self._ids[row] for row in rows])
            for key in include:
                result[key].append(distances[best].tolist() if key == "distances" else self._column(key, rows))
        return {**result, "include": include}

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        raise KnowledgeBaseError(READ_ONLY)

    def delete(self, *args: Any, **kwargs: Any) -> None:
        raise KnowledgeBaseError(READ_ONLY)

    def __repr__(self) -> str:
        return f"SnapshotCollection({str(self.folder)!r}, {self.count()} passages)"
