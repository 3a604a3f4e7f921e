"""An OpenCLIP model (image and text towers) chosen by name and weights, loaded once per process.

CLIP puts images and sentences in one vector space: the image tower serves as a frame encoder
(``clip:<model>`` indexes, searchable by text) and the text tower scores a clip against every
activity the knowledge base names, trained or not. The weights are optional: without them the
feature switches itself off with one warning, and callers turn the ``ArtifactError`` into a note.

Settings (``core.settings``; environment ``ACTIVITY_CLIP_MODEL``, ``ACTIVITY_CLIP_PRETRAINED``,
``ACTIVITY_CLIP_WEIGHTS``): the model (default ViT-B-32), an open_clip tag (default
laion2b_s34b_b79k, or ``random``) and a weights file, which wins over the tag. With a file, the
architecture comes from the model name alone, so OpenAI weights go with ``ViT-B-32-quickgelu``, as in open_clip.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import ArtifactError
from core.settings import Settings
from indexing.encoders.openclip_weights import locate_weights

log = logging.getLogger(__name__)

DEFAULT_MODEL = Settings.model_fields["clip_model"].default
DEFAULT_PRETRAINED = Settings.model_fields["clip_pretrained"].default
TEXT_BATCH = 64
RANDOM_SEED = 0  # random weights are the same in every process, so a "random" index stays queryable


@dataclass(frozen=True)
class ClipSpec:
    """Which model and which weights: ``pretrained`` is an open_clip tag, a file path, or ``random``."""

    model: str = DEFAULT_MODEL
    pretrained: str = DEFAULT_PRETRAINED

    @property
    def name(self) -> str:
        return f"{self.model}:{self.pretrained}"

    @classmethod
    def parse(cls, text: str, default_pretrained: str = DEFAULT_PRETRAINED) -> "ClipSpec":
        """``ViT-B-32``, ``ViT-B-32:openai``, ``ViT-B-32:/models/clip.bin`` or ``ViT-B-32:random``."""
        model, _, pretrained = text.partition(":")
        if not model.strip():
            raise ArtifactError(
                f"CLIP model name missing in {text!r}; use e.g. ViT-B-32 or ViT-B-32:{DEFAULT_PRETRAINED}."
            )
        return cls(model.strip(), pretrained.strip() or default_pretrained)


def clip_spec(settings: Settings, model: str | None = None) -> ClipSpec:
    """The spec for ``model`` (default: the settings' model), with the settings' weights when it names none."""
    return ClipSpec.parse(model or settings.clip_model, settings.clip_default_pretrained)


@dataclass(eq=False)
class ClipModel:
    spec: ClipSpec
    model: nn.Module
    tokenizer: object
    weights: str  # where the weights came from, in words
    dim: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    logit_scale: float  # CLIP's learned temperature: softmax(logit_scale * cosine)

    @property
    def image_tower(self) -> nn.Module:
        """(N, 3, S, S) normalised images -> (N, dim) unnormalised embeddings."""
        return self.model.visual

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), TEXT_BATCH):
                tokens = self.tokenizer(list(texts[start : start + TEXT_BATCH]))
                out.append(self.model.encode_text(tokens, normalize=True).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)


def _create(spec: ClipSpec) -> ClipModel:
    source = locate_weights(spec.model, spec.pretrained)
    import open_clip  # seconds to import: only once weights are known to exist

    config = source.tag_config
    preprocess = {key: config[key] for key in ("mean", "std") if key in config}
    try:
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            model = open_clip.create_model(
                spec.model,
                pretrained=source.pretrained,
                force_quick_gelu=bool(config.get("quick_gelu", False)),
                force_preprocess_cfg=preprocess or None,
            )
        tokenizer = open_clip.get_tokenizer(spec.model)
    except (RuntimeError, OSError, ValueError, KeyError) as error:
        raise ArtifactError(f"OpenCLIP could not load {spec.name}: {error}") from error
    model.eval()
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg["size"]
    return ClipModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        weights=source.description,
        dim=int(open_clip.get_model_config(spec.model)["embed_dim"]),
        image_size=int(size if isinstance(size, int) else size[0]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
        logit_scale=float(model.logit_scale.detach().exp()),
    )


_loaded: dict[ClipSpec, ClipModel | ArtifactError] = {}


def load_clip(spec: ClipSpec) -> ClipModel:
    """The model for ``spec``, loaded once; without weights, one warning and ``ArtifactError`` every call."""
    if spec not in _loaded:
        try:
            _loaded[spec] = _create(spec)
            log.info("CLIP %s loaded (%s, %d-d)", spec.model, _loaded[spec].weights, _loaded[spec].dim)
        except ArtifactError as error:
            log.warning("CLIP is off: %s", error)
            _loaded[spec] = error
    loaded = _loaded[spec]
    if isinstance(loaded, ArtifactError):
        raise ArtifactError(str(loaded))
    return loaded


def clear_clip_cache() -> None:
    """Forget loaded models and failures (after weights were copied in, for instance)."""
    _loaded.clear()
