"""Load an exported ONNX file with ONNX Runtime and check it is what the caller expects (no torch).

A truncated or foreign file, an export without its record, a file of another kind or exported
from another checkpoint are each refused with an ``ArtifactError`` that says how to fix it,
before anything runs on it.
"""

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core.errors import ArtifactError
from training.models.export_metadata import METADATA_KEY, ExportMetadata, Kind

log = logging.getLogger(__name__)


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
    # Idle threads sleep instead of spinning: on a CPU shared with other work (the machines this is for,
    # and this one) spinning threads steal the cores the model needs (measured 92 against 64 frames/s
    # for EfficientNet-Lite0 at 128 px on 2 busy cores; benchmarks/runtime.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def read_metadata(session: ort.InferenceSession, path: Path) -> ExportMetadata:
    custom = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in custom:
        raise ArtifactError(
            f"{path} is an ONNX file without this project's export record; "
            "export it with `python -m training export RUN` (or `python -m indexing export-encoder`)."
        )
    return ExportMetadata.from_json(custom[METADATA_KEY], str(path))


class OnnxModel:
    """One exported graph: a single input, a single output, its ``ExportMetadata``."""

    def __init__(self, path: str | Path, *, kind: Kind | None = None, source_sha256: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise ArtifactError(f"Export {self.path} not found; run `python -m training export RUN` first.")
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types, all meaning "not loadable"
            raise ArtifactError(f"{self.path} is corrupt or not an ONNX model ({exc}); export it again.") from exc
        self.metadata = read_metadata(self.session, self.path)
        if kind is not None and self.metadata.kind != kind:
            raise ArtifactError(f"{self.path} is a {self.metadata.kind} export, not the {kind} expected here.")
        if source_sha256 is not None and self.metadata.source_sha256 != source_sha256:
            raise ArtifactError(
                f"{self.path} was exported from another checkpoint (sha256 {self.metadata.source_sha256[:16]}, "
                f"expected {source_sha256[:16]}); export this run again."
            )
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: inputs})[0]

    def run_batched(self, inputs: np.ndarray, batch_size: int) -> np.ndarray:
        """``run`` over slices of at most ``batch_size`` rows, concatenated (bounds activation memory)."""
        if len(inputs) == 0:
            return np.zeros((0,), dtype=np.float32)
        return np.concatenate([self.run(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name!r}, {self.metadata.kind}, {self.metadata.precision})"
