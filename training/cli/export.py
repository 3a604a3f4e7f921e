"""``python -m training export RUN [--int8] [--out DIR]``: the run's model as ONNX files for ONNX Runtime."""

import argparse
import json
from pathlib import Path

from training.export.run_export import export_run


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a run's model to ONNX (backbone and head separately for frozen-backbone models)",
        description="Writes ONNX files with their metadata inside and export.json, which records how each "
        "precision agreed with torch on held-out cached clips and how fast it ran.",
    )
    p.add_argument("run", type=Path, help="run dir (or its checkpoint.pt)")
    p.add_argument("--int8", action="store_true", help="also write a static int8 (QDQ) model and serve it")
    p.add_argument("--out", type=Path, help="output folder (default: RUN/export, where the runtime looks)")
    p.add_argument("--data", help="prepared dataset to calibrate and check on (default: the run's)")
    p.add_argument("--calibration-clips", type=int, default=8, help="cached training clips for int8 calibration")
    p.add_argument("--parity-clips", type=int, default=24, help="held-out cached clips compared with torch")
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    record = export_run(
        args.run,
        args.out,
        int8=args.int8,
        data=args.data,
        calibration_clips=args.calibration_clips,
        parity_clips=args.parity_clips,
    )
    print(json.dumps({key: record[key] for key in ("serve", "files", "parity", "bytes")}, indent=2))
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    _add_export(subparsers)
