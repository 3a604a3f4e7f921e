"""The calibration record: fusion weight and "unknown" thresholds chosen on a validation split.

It lives next to the checkpoint (``<run>/calibration.json``) because the thresholds describe
that model's confidence; with no checkpoint (retrieval only) it lives in the frame index folder.
The record also names the build of the frame index it was measured with: similarities from a
rebuilt index (another encoder setting, other clips) may not match its thresholds, so answers
say so until ``calibrate`` runs again (``stale_calibration_note``).
"""

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.evidence import FusionSettings
from assistant.runtime.open_set import OpenSetCalibration, applied_floor
from core.atomic import atomic_write_json
from core.errors import ArtifactError
from indexing.frames.frame_index import FrameIndex

CALIBRATION_FILE = "calibration.json"


def calibration_path(checkpoint: Path | None, index_dir: Path | None) -> Path | None:
    if checkpoint is not None:
        return checkpoint.parent / CALIBRATION_FILE
    if index_dir is not None:
        return index_dir / CALIBRATION_FILE
    return None


def read_calibration(path: Path) -> dict[str, Any]:
    """The whole record (fusion settings, report, what it was measured with)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        FusionSettings.model_validate(record["fusion"])
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as error:
        raise ArtifactError(
            f"{path} is not a readable calibration ({error}); run `python -m assistant calibrate`."
        ) from error
    return record


def load_fusion(path: Path) -> FusionSettings:
    record = read_calibration(path)
    return FusionSettings.model_validate({**record["fusion"], "calibrated": True, "source": str(path)})


# The fusion fields ``with_open_set_floors`` fills from the library (measured at every snapshot load).
OPEN_SET_FIELDS = ("open_set_floor", "open_set", "open_set_impostors")


def with_open_set_floors(fusion: FusionSettings, open_set: OpenSetCalibration) -> FusionSettings:
    """``fusion`` judged by the library's own open-set floor (measured on its current contents)."""
    floor = applied_floor(open_set)
    impostors = open_set.impostor if floor is not None else ()
    values = (floor, open_set.describe(), impostors)
    return fusion.model_copy(update=dict(zip(OPEN_SET_FIELDS, values, strict=True)))


def save_calibration(path: Path, fusion: FusionSettings, report: dict[str, Any]) -> Path:
    record = {"fusion": fusion.model_dump(exclude={"source"}), **report}
    return atomic_write_json(path, record)


def stale_calibration_note(fusion: FusionSettings, index: FrameIndex | None) -> str | None:
    """A note for answers when the thresholds were measured on another build of the frame index."""
    if not fusion.calibrated or fusion.index_build_id is None or index is None:
        return None
    build_id = index.manifest.get("build_id")
    if build_id == fusion.index_build_id:
        return None
    return (
        f"The unknown thresholds were calibrated on frame index build {fusion.index_build_id}, but the index "
        f"in {index.root} is build {build_id}: similarities may have shifted. Run "
        "`python -m assistant calibrate` again."
    )
