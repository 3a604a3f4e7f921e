"""What an exported ONNX file is, carried inside the file so it cannot be separated from it.

One JSON record under one ``metadata_props`` key: the kind of graph (a whole classifier, a
frame backbone, a head fed backbone features, the index's frame encoder), its labels, input
size, normalisation, feature key, frame count, precision and the sha256 of the checkpoint it
came from. Loading checks the record against what the caller expects, so an encoder file is
never run as a classifier and an export of another checkpoint is never paired with this one.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from core.errors import ArtifactError

METADATA_KEY = "activity_export"
FORMAT_VERSION = 1
Kind = Literal["classifier", "backbone", "head", "frame_encoder"]
KINDS: tuple[str, ...] = ("classifier", "backbone", "head", "frame_encoder")
Precision = Literal["fp32", "int8"]


@dataclass(frozen=True)
class ExportMetadata:
    kind: Kind
    model: str  # the zoo model name, or the encoder name for a frame encoder
    source_sha256: str  # of the checkpoint file (or of the encoder's weights) it was exported from
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    labels: tuple[str, ...] = ()
    num_frames: int = 0  # frames per clip a classifier reads (0: not a clip model)
    decode_size: int = 0  # square side clips are decoded at before the centre crop
    keep_aspect: bool = False
    feature_key: str | None = None  # the backbone features it reads or writes (training.models.backbone_key)
    feature_dim: int = 0
    precision: Precision = "fp32"
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "<export>") -> "ExportMetadata":
        try:
            record = json.loads(text)
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(record) - known)
            if unknown:
                raise ValueError(f"unknown fields {unknown}")
            record["mean"], record["std"] = tuple(record["mean"]), tuple(record["std"])
            record["labels"] = tuple(record.get("labels", ()))
            metadata = cls(**record)
        except (json.JSONDecodeError, TypeError, ValueError, KeyError) as exc:
            raise ArtifactError(f"{where}: its export record is unreadable ({exc}); export it again.") from exc
        if metadata.format_version > FORMAT_VERSION:
            raise ArtifactError(f"{where} was exported by a newer version of this code.")
        if metadata.kind not in KINDS:
            raise ArtifactError(f"{where}: unknown export kind {metadata.kind!r}.")
        return metadata

    def with_precision(self, precision: Precision, **extra: Any) -> "ExportMetadata":
        record = asdict(self)
        record.update(precision=precision, extra={**self.extra, **extra})
        record["mean"], record["std"], record["labels"] = self.mean, self.std, self.labels
        return ExportMetadata(**record)
