"""``python -m assistant calibrate``: choose fusion weight and unknown thresholds, print the comparison."""

import argparse
from pathlib import Path

from assistant.jobs.calibrate import MAX_UNKNOWN_RATE, calibrate, save_result
from assistant.runtime.resources import Resources
from core.cli import settings_from


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    cal = subparsers.add_parser("calibrate", help="choose the fusion weight and unknown thresholds on the val split")
    cal.add_argument("--data", type=Path, help="prepared dataset folder (default: <data>/prepared)")
    cal.add_argument("--split", default="val")
    cal.add_argument(
        "--max-unknown-rate",
        type=float,
        default=MAX_UNKNOWN_RATE,
        help="share of known clips that may be called unknown (default: %(default)s)",
    )
    cal.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    resources = Resources.load(settings)
    result = calibrate(
        args.data or settings.prepared_dir, resources, split=args.split, max_unknown_rate=args.max_unknown_rate
    )
    path = save_result(result, resources)
    print(result.table())
    fusion = result.fusion
    rule = f"fused confidence below {fusion.unknown_threshold:.2f}"
    if fusion.open_set_floor is not None:
        rule += (
            f", or the leader's open-set score below {fusion.open_set_floor:.2f}, or another activity matched better"
        )
    print(f"\nchosen: classifier weight {fusion.classifier_weight:.1f}; unknown when {rule}")
    print(f"saved {path}")
    return 0
