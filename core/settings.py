"""One settings object for the whole product.

Values come from environment variables prefixed ``ACTIVITY_`` (for example
``ACTIVITY_DATA_DIR=/data/var``) and can be overridden by CLI flags through
``Settings(**overrides)``. Derived paths are properties, so changing ``data_dir`` moves every
artifact with it.
"""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore")

    data_dir: Path = Path("var")
    kb_dir: Path = Path("kb")

    # Decoding and input limits.
    num_frames: int = 16
    frame_size: int = 128
    max_file_mb: float = 500.0
    max_duration_s: float = 600.0

    # Answering.
    top_k: int = 5
    neighbours_k: int = 10
    window_s: float = 4.0
    llm_provider: Literal["auto", "offline", "gemini", "local"] = "auto"
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    google_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ACTIVITY_GOOGLE_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"),
    )
    llm_timeout_s: float = 20.0
    local_model_path: Path | None = None

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
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
