"""Which FAISS index holds the frame vectors: exact by default, approximate for large libraries.

Vectors are L2-normalised, so inner product is cosine similarity for every type. Every index
is wrapped in ``IndexIDMap2`` so vectors keep stable ids through ``add`` and ``remove``.
"""

import math
from dataclasses import dataclass, field

import faiss
import numpy as np

from core.errors import ArtifactError

INDEX_KINDS = ("flat", "ivf", "hnsw")
# k-means wants ~39+ training points per IVF list (FAISS warns below); more only slows training.
_POINTS_PER_LIST = 40
HNSW_M = 32
# efConstruction 80 instead of FAISS's 40: a better graph, worth ~0.03 recall@10 at equal speed.
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class IndexType:
    """A FAISS factory string plus the search-time parameters that go with it."""

    kind: str
    factory: str
    params: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "factory": self.factory, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, record: dict) -> "IndexType":
        return cls(record["kind"], record["factory"], {k: int(v) for k, v in record.get("params", {}).items()})

    @property
    def supports_remove(self) -> bool:
        return "HNSW" not in self.factory


def ivf_lists(n_vectors: int) -> int:
    """About sqrt(N) lists, capped so each list still gets enough training points.

    Fewer, longer lists than the usual 4*sqrt(N): with 8-bit codes a probe is cheap, while
    the flat scan over the centroids would dominate query time at 1M vectors.
    """
    return max(1, min(round(math.sqrt(n_vectors)), n_vectors // _POINTS_PER_LIST))


def ivf_nprobe(lists: int) -> int:
    """At least 8 lists, ~0.8% of them at 1M vectors: recall@10 0.98 at 3.5 ms (benchmarks/index.py)."""
    return min(lists, max(8, math.ceil(lists / 128)))


def choose_index_type(kind: str, n_vectors: int, *, nprobe: int | None = None, ef_search: int | None = None):
    """``flat``, ``ivf`` or ``hnsw`` sized for ``n_vectors``; any other text is a factory string."""
    if kind == "flat":
        return IndexType("flat", "Flat")
    if kind == "ivf":
        lists = ivf_lists(n_vectors)
        # SQ8 stores 1 byte per dimension: 4x less memory and memory traffic than Flat, for a
        # small loss of ranking precision (about 0.01 recall@10).
        return IndexType("ivf", f"IVF{lists},SQ8", {"nprobe": nprobe or ivf_nprobe(lists)})
    if kind == "hnsw":
        return IndexType("hnsw", f"HNSW{HNSW_M},Flat", {"efSearch": ef_search or HNSW_EF_SEARCH})
    params = {k: v for k, v in (("nprobe", nprobe), ("efSearch", ef_search)) if v}
    return IndexType("factory", kind, params)


def apply_search_params(index: faiss.Index, index_type: IndexType) -> None:
    space = faiss.ParameterSpace()
    for name, value in index_type.params.items():
        space.set_index_parameter(index, name, value)


def create_index(index_type: IndexType, dim: int, training_vectors: np.ndarray) -> faiss.IndexIDMap2:
    """An empty id-mapped index, trained on ``training_vectors`` when the type needs it."""
    try:
        base = faiss.index_factory(dim, index_type.factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        raise ArtifactError(f"FAISS cannot build index type {index_type.factory!r}: {error}") from error
    hnsw = getattr(faiss.downcast_index(base), "hnsw", None)
    if hnsw is not None:
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(base)
    if not index.is_trained:
        lists = getattr(faiss.downcast_index(base), "nlist", 1)
        if len(training_vectors) < lists:
            raise ArtifactError(
                f"{index_type.factory} needs at least {lists} vectors to train, got "
                f"{len(training_vectors)}; use --index-type flat for a library this small."
            )
        index.train(_training_sample(training_vectors, _POINTS_PER_LIST * lists))
    apply_search_params(index, index_type)
    return index


def _training_sample(vectors: np.ndarray, limit: int) -> np.ndarray:
    """k-means cost grows with points x lists; a random sample of ``limit`` points is enough."""
    if len(vectors) > limit:
        vectors = vectors[np.sort(np.random.default_rng(0).choice(len(vectors), limit, replace=False))]
    return np.ascontiguousarray(vectors, dtype=np.float32)
