"""The model zoo: build any registered model by name."""

from training.models.registry import MODEL_NAMES, SPECS, ModelSpec, build_model, get_spec

__all__ = ["MODEL_NAMES", "SPECS", "ModelSpec", "build_model", "get_spec"]
