"""Where the knowledge base's Chroma collection lives: an embedded folder, or a Chroma server.

The embedded ``PersistentClient`` is the default and needs nothing running, but only one
process should own its folder. ``ACTIVITY_CHROMA_URL`` (``--chroma-url``) points every KB
operation at a ``chroma run`` server instead, which app replicas and CLIs on any machine can
share. Both get the same explicit MiniLM embedding function, so vectors match between modes
(chromadb's default would download an ONNX model). chromadb's HTTP client waits forever on a
stuck server, so every request here has a timeout, and a server that is down, refuses or stops
answering becomes a ``KnowledgeBaseError`` that says what to do, never a hung answer.
"""

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import KnowledgeBaseError
from indexing.kb.text_embedder import minilm_embedding_function

log = logging.getLogger(__name__)
DEFAULT_PORT = 8000  # chroma run's
HEARTBEAT_PATH = "/api/v2/heartbeat"


def _telemetry_off():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


@contextmanager
def _reaching(url: str) -> Iterator[None]:
    """Network failures of one request to the server, as an error the user can act on."""
    try:
        yield
    except httpx.HTTPError as error:  # refused, reset, timed out, or not a Chroma server
        raise KnowledgeBaseError(
            f"The Chroma server at {url} is not answering ({type(error).__name__}: {error}). Start it "
            "(`chroma run --path <folder> --host <host> --port <port>`) or unset ACTIVITY_CHROMA_URL "
            "to use the embedded store in the data directory."
        ) from error


class ServerCollection:
    """A collection on a Chroma server; each method call turns network failures into KnowledgeBaseError."""

    def __init__(self, collection: Any, url: str) -> None:
        self._collection, self.url = collection, url

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            with _reaching(self.url):
                return attribute(*args, **kwargs)

        return call


def _server_client(url: str, timeout_s: float):
    import chromadb

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KnowledgeBaseError(f"ACTIVITY_CHROMA_URL must look like http://host:port, got {url!r}.")
    # chromadb's client makes requests while it is being built, without a timeout: ask first.
    with _reaching(url):
        httpx.get(url.rstrip("/") + HEARTBEAT_PATH, timeout=timeout_s).raise_for_status()
    ssl = parts.scheme == "https"
    with _reaching(url):
        client = chromadb.HttpClient(
            host=parts.hostname, port=parts.port or (443 if ssl else DEFAULT_PORT), ssl=ssl, settings=_telemetry_off()
        )
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s)
    else:
        log.warning("this chromadb version hides its HTTP session: requests to %s have no timeout", url)
    return client


def open_collection(name: str, *, chroma_dir: Path, url: str | None = None, timeout_s: float = 10.0) -> Any:
    """The named cosine-distance collection, created when missing, on the server at ``url`` or in ``chroma_dir``."""
    create: Callable[..., Any]
    if url:
        client = _server_client(url, timeout_s)
        create = ServerCollection(client, url).get_or_create_collection
    else:
        import chromadb

        chroma_dir.mkdir(parents=True, exist_ok=True)
        create = chromadb.PersistentClient(path=str(chroma_dir), settings=_telemetry_off()).get_or_create_collection
    collection = create(
        name, embedding_function=minilm_embedding_function(), configuration={"hnsw": {"space": "cosine"}}
    )
    return ServerCollection(collection, url) if url else collection
