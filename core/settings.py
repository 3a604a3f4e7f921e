"""One settings object for the whole product.

Precedence, highest first: a CLI flag (passed as ``Settings(**overrides)``), an environment
variable prefixed ``ACTIVITY_`` (for example ``ACTIVITY_DATA_DIR=/data/var``), the default here.
Derived paths are properties, so changing ``data_dir`` moves every artifact with it. Fields with
an alias (the Gemini key) accept their field name too (``populate_by_name``): without it some
pydantic-settings versions silently drop ``Settings(google_api_key=...)``.
"""

import json
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# What ``python -m assistant bundle`` records for answering elsewhere as it answers here.
BUNDLED_SETTINGS = ("num_frames", "frame_size", "window_s", "top_k", "neighbours_k", "max_file_mb", "max_duration_s")


def _bundle_settings(bundle: Path) -> dict:
    """The settings recorded in ``bundle``'s record (``assistant.runtime.bundle.BUNDLE_FILE``, which this layer
    cannot import); none when it cannot be read (opening the bundle says why)."""
    try:
        record = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
        return dict(record.get("settings") or {})
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACTIVITY_", extra="ignore", populate_by_name=True, protected_namespaces=()
    )

    data_dir: Path = Path("var")
    kb_dir: Path = Path("kb")
    # An answering bundle (``python -m assistant bundle``): answer from it with ONNX Runtime, no torch.
    # Its folder is the data directory and holds the KB; the runtime is ONNX.
    bundle: Path | None = None

    # Decoding and input limits.
    num_frames: int = 16
    frame_size: int = 128
    max_file_mb: float = 500.0
    max_duration_s: float = 600.0
    # Server-side folders the app may read a dataset from (JSON list; empty: the data directory only).
    source_roots: list[Path] = []

    # Answering.
    top_k: int = 5
    neighbours_k: int = 10
    window_s: float = 4.0
    llm_provider: str = "auto"  # auto or a registered answer writer (assistant.answering.llm)
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    google_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ACTIVITY_GOOGLE_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"),
    )
    llm_timeout_s: float = 20.0
    # Any OpenAI-compatible chat endpoint (OpenAI, Ollama's /v1, llama-server, vLLM, LM Studio); key optional.
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ACTIVITY_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-4o-mini"
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("ACTIVITY_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    # A local model by name (smollm2-135m, gemma3-270m: they install from PyPI); a path wins.
    local_model: str = "gemma3-270m"
    local_model_path: Path | None = None

    # Where the app, ``assistant ask``/``explain``/``setup`` run the models: auto (a GPU when present), cpu, cuda:1 ...
    device: str = "auto"
    # What runs the classifier and frame encoder: ONNX Runtime on a run's export (``python -m training
    # export``) or torch; auto takes the export when it is there, agreed with torch and ran faster.
    runtime: Literal["auto", "torch", "onnx"] = "auto"
    # Every command and the app keep freed memory mapped (``core.memory``): much faster, larger RSS.
    keep_freed_memory: bool = True

    # Scaling out: a Chroma server instead of the embedded folder; how long ranks wait on each other.
    chroma_url: str | None = None
    chroma_timeout_s: float = 10.0
    dist_timeout_s: float = 300.0

    # OpenCLIP (zero-shot and ``clip:`` frame encoders): a weights file wins over the tag.
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    clip_weights: Path | None = None

    # Dataset downloads (``python -m training download``): each list is tried in order, falling over
    # to the next URL when one is down; env values are JSON lists (``ACTIVITY_UCF101_VIDEO_URLS='["..."]'``).
    # The official server is often down: the last video URL is the THUMOS'14 copy (a zip of flat files).
    ucf101_video_urls: list[str] = [
        "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar",
        "https://www.crcv.ucf.edu/datasets/human-actions/ucf101/UCF101.rar",
        "https://storage.googleapis.com/thumos14_files/UCF101_videos.zip",
    ]
    ucf101_splits_urls: list[str] = [
        "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip",
        "https://www.crcv.ucf.edu/wp-content/uploads/2019/03/UCF101TrainTestSplits-RecognitionTask.zip",
    ]
    # Expected SHA-256 per URL (JSON object); a download without one is checked by size and by the
    # archive's own per-file CRCs when it is extracted.
    download_sha256: dict[str, str] = {}
    download_connect_timeout_s: float = 5.0
    download_read_timeout_s: float = 60.0
    download_retries: int = 5

    @model_validator(mode="after")
    def _bundle_is_the_data_dir(self) -> "Settings":
        """A bundle is the data directory, answers with ONNX Runtime, and brings the answering settings it
        was written with (window length, frames, limits) unless a flag or the environment sets them."""
        if self.bundle is not None:
            self.data_dir, self.kb_dir, self.runtime = self.bundle, self.bundle / "kb", "onnx"
            for name, value in _bundle_settings(self.bundle).items():
                if name in BUNDLED_SETTINGS and name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

    @property
    def downloads_dir(self) -> Path:
        """Downloaded archives, kept so that more classes can be extracted later without a new download."""
        return self.data_dir / "downloads"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def prepared_dir(self) -> Path:
        return self.data_dir / "prepared"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "frame_index"

    @property
    def exports_dir(self) -> Path:
        """ONNX exports of frame encoders, named by the features they compute (``indexing export-encoder``)."""
        return self.data_dir / "exports"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def clip_default_pretrained(self) -> str:
        """What a CLIP model name without a tag is loaded with: the weights file, else the tag."""
        return str(self.clip_weights) if self.clip_weights else self.clip_pretrained

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def readable_source_roots(self) -> list[Path]:
        """Where the app's setup may read a dataset folder: ``source_roots``, else the data directory."""
        return list(self.source_roots) or [self.data_dir]
