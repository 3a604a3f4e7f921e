"""``python -m assistant bundle --out DIR [--int8]``: what answering needs, for a machine without torch."""

import argparse
from pathlib import Path

from assistant.jobs.bundle_writer import write_bundle
from core.cli import settings_from


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bundle",
        help="write an answering bundle (ONNX models, frame index, KB, calibration) for a small machine",
        description="Writes the active classifier's ONNX export (exporting it first if needed), the frame index "
        "with its encoder as ONNX, the calibration and the knowledge base into one folder (or a .zip). On the "
        "small machine: pip install '.[edge]' (no torch), then `python -m assistant --bundle DIR ask CLIP` or "
        "`python app.py --bundle DIR`.",
    )
    p.add_argument("--out", type=Path, required=True, help="bundle folder, or a path ending in .zip")
    p.add_argument("--int8", action="store_true", help="serve the classifier's int8 export (about 4x less disk)")
    p.add_argument(
        "--data",
        type=Path,
        help="prepared data to calibrate and check an export on, when the run has no current one (default: the run's)",
    )
    p.set_defaults(handler=run_bundle)


def run_bundle(args: argparse.Namespace) -> int:
    record = write_bundle(settings_from(args), args.out, int8=args.int8, data=args.data)
    classifier, index, kb = record["classifier"], record["index"], record["kb"]
    print(f"Wrote {args.out} ({record['bytes'] / 1e6:.1f} MB, {len(record['files'])} files):")
    if classifier:
        agreement = classifier["parity"].get("top1_agreement")
        measured = f", top-1 agreement with torch {agreement:.1%}" if agreement is not None else ""
        print(f"  classifier  {classifier['model']} from run {classifier['run']} ({classifier['precision']}{measured})")
    if index:
        print(f"  frame index {index['vectors']} frames of {index['clips']} clips, encoder {index['encoder']}")
    print(f"  knowledge base {kb['passages']} passages about {len(kb['labels'])} activities")
    print(f"On the small machine: pip install '.[edge]' && python -m assistant --bundle {args.out} ask CLIP")
    return 0
