"""How a model's input clip is made from a video: recorded in every checkpoint.

The decode size and frame count must match what the model was trained on (the frame cache's
settings); the crop size and normalisation are the model's. Storing them together lets any
part of the product feed a checkpoint correctly without knowing how it was trained.
"""

from dataclasses import asdict, dataclass
from typing import Any

from core.errors import ArtifactError


@dataclass(frozen=True)
class Preprocessing:
    num_frames: int
    decode_size: int
    crop_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    keep_aspect: bool = False

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["mean"], record["std"] = list(self.mean), list(self.std)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Preprocessing":
        try:
            return cls(
                num_frames=int(record["num_frames"]),
                decode_size=int(record["decode_size"]),
                crop_size=int(record["crop_size"]),
                mean=tuple(float(v) for v in record["mean"]),
                std=tuple(float(v) for v in record["std"]),
                keep_aspect=bool(record.get("keep_aspect", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"Checkpoint preprocessing record is incomplete: {exc}") from exc
