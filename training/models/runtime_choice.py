"""Whether ONNX Runtime or torch runs a model: ``ACTIVITY_RUNTIME`` / ``--runtime`` meets what is on disk.

``torch`` never looks for an export. ``onnx`` insists: no export, an export of an older
checkpoint, or a GPU device (ONNX Runtime runs on the CPU here) stop with a message saying what
to run. ``auto`` takes an export only when it is current, agreed with torch at export time
(``training.export.parity`` targets) and ran faster than torch there; otherwise it says once, in
the log, why torch answers.
"""

import logging
from pathlib import Path
from typing import Any

from core.digest import file_sha256
from core.errors import ArtifactError
from training.models.export_manifest import default_export_dir, read_manifest
from training.models.onnx_classifier import OnnxClassifier

log = logging.getLogger(__name__)


def refuse_or_skip(runtime: str, reason: str) -> None:
    if runtime == "onnx":
        raise ArtifactError(f"ACTIVITY_RUNTIME=onnx, but {reason}")
    log.info("runtime auto -> torch: %s", reason)


def measured_faster(parity: dict[str, Any], precision: str) -> bool:
    """True when the export's served precision beat torch in the export's own measurement."""
    exported, torch_speed = parity.get(precision, {}), parity.get("torch", {})
    key = "frames_per_s" if "frames_per_s" in exported and "frames_per_s" in torch_speed else "clips_per_s"
    return exported.get(key, 0.0) > torch_speed.get(key, float("inf"))


def onnx_for_checkpoint(checkpoint: Path, runtime: str, device: str = "cpu") -> OnnxClassifier | None:
    """The ONNX classifier to answer with for ``checkpoint`` (in ``RUN/export``), or None for torch."""
    if runtime == "torch":
        return None
    export_dir = default_export_dir(checkpoint.parent)
    hint = f"export it with `python -m training export {checkpoint.parent}`, or use --runtime torch."
    if str(device) != "cpu":
        refuse_or_skip(runtime, f"the models run on {device} and ONNX Runtime runs on the CPU here; use --device cpu.")
        return None
    manifest = read_manifest(export_dir)
    if manifest is None:
        refuse_or_skip(runtime, f"the run {checkpoint.parent} has no ONNX export; {hint}")
        return None
    if manifest["checkpoint_sha256"] != file_sha256(checkpoint):
        refuse_or_skip(runtime, f"the ONNX export in {export_dir} is of an older checkpoint; {hint}")
        return None
    served = manifest["serve"]
    figures = manifest.get("parity", {}).get(served, {})
    if runtime == "auto" and not (figures.get("passes") and measured_faster(manifest["parity"], served)):
        log.info(
            "runtime auto -> torch: the %s export in %s did not both agree with torch and run faster",
            served,
            export_dir,
        )
        return None
    classifier = OnnxClassifier.from_export(export_dir, checkpoint_sha256=manifest["checkpoint_sha256"])
    log.info("classifier runs on ONNX Runtime (%s export in %s)", served, export_dir)
    return classifier
