"""Find indexed clips by a sentence ("someone riding a wave"): CLIP text vector vs frame vectors.

Only an index built with a CLIP encoder can answer: other encoders' frame vectors have no
text counterpart. That is checked from the index manifest before any model is loaded.
"""

from core.errors import ArtifactError
from indexing.encoders.openclip import PREFIX, ClipEncoder
from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import ClipSearchResult, search_vectors
from indexing.frames.frame_index import FrameIndex


def require_clip_index(index: FrameIndex) -> str:
    """The index's CLIP encoder name, or a clear error saying how to build a searchable index."""
    name = index.encoder_spec["name"]
    if not name.startswith(PREFIX):
        raise ArtifactError(
            f"The frame index in {index.root} was built with encoder {name!r}, which has no text side; text "
            "search needs an index built with CLIP: python -m indexing frames --encoder clip:ViT-B-32"
        )
    return name


def search_text(index: FrameIndex, text: str, k: int = 10, encoder: ClipEncoder | None = None) -> ClipSearchResult:
    """The ``k`` indexed clips whose best frame is closest to ``text``, and their label vote."""
    if not text.strip():
        raise ArtifactError("Text search needs a non-empty --text query.")
    name = require_clip_index(index)
    encoder = encoder or get_encoder(name)
    index.check_encoder(encoder)
    result = search_vectors(index, encoder.encode_text([text]), k)
    return ClipSearchResult(result.neighbours, result.vote, encoder.name)
