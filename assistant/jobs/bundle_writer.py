"""Write the answering bundle (``python -m assistant bundle``): the full install's answer, ready for a small machine.

It gathers what ``bundle.Bundle`` reads: the active classifier's ONNX export (exported here when
the run has none, or one of an older checkpoint), the frame index with its encoder's export, the
calibration, the KB's files with their embedded passages and the sentence model as ONNX. Each
part is checked by loading it from the copy the way the small machine will. Everything is
written into a staging folder beside the destination and moved into place last, so an
interrupted or failed write leaves the previous bundle (or nothing), never half of one.
"""

import json
import logging
import shutil
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.runtime.active_checkpoint import find_active_checkpoint
from assistant.runtime.bundle import (
    BUNDLE_FILE,
    ENCODER_FILE,
    FORMAT,
    FORMAT_VERSION,
    INDEX_DIR,
    KB_DIR,
    KB_SNAPSHOT_DIR,
    TEXT_ENCODER_DIR,
    Bundle,
)
from assistant.runtime.calibration import CALIBRATION_FILE
from core.atomic import atomic_write_json
from core.digest import file_sha256
from core.errors import ArtifactError
from core.locks import LOCK_FILE, store_lock
from core.settings import BUNDLED_SETTINGS, Settings
from indexing.encoders.encoder_export import check_frames_from, export_encoder
from indexing.encoders.onnx_encoder import OnnxFrameEncoder, encoder_export_path
from indexing.encoders.registry import get_encoder
from indexing.frames.frame_index import MANIFEST_FILE, THUMBS_DIR
from indexing.kb.knowledge_base import KnowledgeBase
from indexing.kb.minilm_onnx import export_minilm
from indexing.kb.snapshot_writer import write_kb_snapshot
from training.export.parity import MIN_COSINE
from training.export.run_export import export_run
from training.models.export_manifest import default_export_dir, read_manifest, write_manifest
from training.models.onnx_model import OnnxModel

log = logging.getLogger(__name__)


def write_bundle(settings: Settings, out: Path, *, int8: bool = False, data: Path | None = None) -> dict[str, Any]:
    """Write the bundle to the folder ``out`` (or a zip when it ends in .zip); returns its record.

    ``int8`` serves the classifier's int8 export; ``data`` is the prepared data an export is
    calibrated and checked on when the run has no current export (default: the run's own).
    """
    out = Path(out)
    _refuse_foreign(out)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        record: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": str(settings.data_dir.resolve()),
            "settings": {name: getattr(settings, name) for name in BUNDLED_SETTINGS},
            "classifier": _add_classifier(settings, staging, int8=int8, data=data),
            "index": _add_index(settings, staging, data),
            "kb": _add_kb(settings, staging),
        }
        if record["classifier"] is None and record["index"] is None:
            raise ArtifactError(
                f"Nothing to bundle in {settings.data_dir}: no trained classifier and no frame index "
                "(run `python -m assistant setup` first)."
            )
        record["files"] = _file_facts(staging)
        record["bytes"] = sum(facts["bytes"] for facts in record["files"].values())
        atomic_write_json(staging / BUNDLE_FILE, record)
        _read_back(Bundle.open(staging))
        _move_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote the answering bundle %s (%.1f MB)", out, record["bytes"] / 1e6)
    return record


def _refuse_foreign(out: Path) -> None:
    """Replace only a previous bundle: never an unrelated folder or file the user pointed at by mistake."""
    if out.suffix == ".zip":
        if out.exists() and not zipfile.is_zipfile(out):
            raise ArtifactError(f"{out} exists and is not a zip; choose another --out.")
    elif out.exists() and any(out.iterdir()) and not (out / BUNDLE_FILE).is_file():
        raise ArtifactError(f"{out} is a folder that is not an answering bundle; choose a new or empty --out.")


def _copy(source: Path, destination: Path) -> None:
    """Contents only (not ``source``'s permissions: exports are written 0600)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def _add_classifier(settings: Settings, staging: Path, *, int8: bool, data: Path | None) -> dict[str, Any] | None:
    checkpoint = find_active_checkpoint(settings)
    if checkpoint is None:
        log.warning("no trained classifier in %s: the bundle answers from the frame index alone", settings.runs_dir)
        return None
    precision = "int8" if int8 else "fp32"
    export_dir = default_export_dir(checkpoint.parent)
    manifest = read_manifest(export_dir)
    if (
        manifest is None
        or manifest["checkpoint_sha256"] != file_sha256(checkpoint)
        or precision not in manifest["files"]
    ):
        log.info("exporting %s to ONNX (%s) first", checkpoint.parent, precision)
        manifest = export_run(checkpoint.parent, int8=int8, data=data)
    run = checkpoint.parent.name
    destination = staging / "runs" / run
    files = manifest["files"][precision]
    for name in set(files.values()):
        _copy(export_dir / name, destination / name)
    write_manifest(destination, {**manifest, "serve": precision, "files": {precision: files}})
    calibration = checkpoint.parent / CALIBRATION_FILE
    if calibration.is_file():
        _copy(calibration, destination / CALIBRATION_FILE)
    else:
        log.warning("the run %s is not calibrated: the bundle answers with default thresholds", run)
    served = manifest["parity"].get(precision, {})
    if not served.get("passes"):
        agreement = f"top-1 agreement with torch {served.get('top1_agreement', 0):.1%} on held-out clips"
        if precision == "fp32":
            raise ArtifactError(f"The fp32 export of {run} does not answer like torch ({agreement}); not bundled.")
        log.warning("the int8 export of %s is below its agreement target (%s): answers may differ", run, agreement)
    return {
        "run": run,
        "model": manifest["model"],
        "precision": precision,
        "checkpoint_sha256": manifest["checkpoint_sha256"],
        "calibrated": calibration.is_file(),
        "parity": served,
    }


def _add_index(settings: Settings, staging: Path, data: Path | None) -> dict[str, Any] | None:
    source = settings.index_dir
    if not (source / MANIFEST_FILE).is_file():
        log.warning("no frame index in %s: the bundle answers from the classifier alone", source)
        return None
    destination = staging / INDEX_DIR
    with store_lock(source, what=f"The frame index in {source}"):  # no build commits while it is copied
        manifest = json.loads((source / MANIFEST_FILE).read_text(encoding="utf-8"))
        for name in [MANIFEST_FILE, *manifest["files"].values()]:
            _copy(source / name, destination / name)
        thumbs = source / THUMBS_DIR
        if thumbs.is_dir():
            for path in thumbs.iterdir():
                _copy(path, destination / THUMBS_DIR / path.name)
        if (source / CALIBRATION_FILE).is_file():
            _copy(source / CALIBRATION_FILE, destination / CALIBRATION_FILE)
    encoder = get_encoder(manifest["encoder"]["name"])
    export = encoder_export_path(settings.exports_dir, encoder.feature_key) if encoder.feature_key else None
    if export is None or not _agrees(export):  # missing, or measured before a fix: export (and check) again
        export = export_encoder(encoder, settings.exports_dir, check_frames_from(data or settings.prepared_dir))
    if not _agrees(export):
        raise ArtifactError(
            f"The ONNX export of the frame encoder {encoder.name} does not reproduce torch's vectors "
            f"(cosine {OnnxFrameEncoder(OnnxModel(export)).parity.get('feature_cosine', 0):.4f}); not bundled."
        )
    _copy(export, staging / ENCODER_FILE)
    return {
        "encoder": encoder.name,
        "feature_key": encoder.feature_key,
        "build_id": manifest.get("build_id"),
        "vectors": manifest.get("count"),
        "clips": manifest.get("clips"),
    }


def _agrees(export: Path) -> bool:
    """The encoder export's own record says it reproduced torch's vectors when it was written."""
    if not export.is_file():
        return False
    return OnnxFrameEncoder(OnnxModel(export)).parity.get("feature_cosine", 0.0) >= MIN_COSINE["fp32"]


def _add_kb(settings: Settings, staging: Path) -> dict[str, Any]:
    kb = KnowledgeBase.from_settings(settings)
    report = kb.sync()  # the bundle holds the KB as its files say now
    for path in sorted(settings.kb_dir.glob("*.md")):
        _copy(path, staging / KB_DIR / path.name)
    write_kb_snapshot(kb, staging / KB_SNAPSHOT_DIR)
    export_minilm(staging / TEXT_ENCODER_DIR)
    bundled = Bundle(staging, {}).knowledge_base()
    return {"passages": bundled.passage_count(), "labels": sorted(bundled.entries()), "sync": report.summary()}


def _read_back(bundle: Bundle) -> None:
    """Load every model from the copy, as the small machine will: a bad copy fails here, not there."""
    bundle.classifier()
    bundle.frame_index()


def _file_facts(root: Path) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(root).as_posix(): {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != LOCK_FILE
    }


def _move_into_place(staging: Path, out: Path) -> None:
    """The finished bundle replaces ``out`` in one rename (a zip: one file replace)."""
    if out.suffix == ".zip":
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file() and path.name != LOCK_FILE:
                    archive.write(path, path.relative_to(staging).as_posix())
        partial.replace(out)
        return
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
