"""``python -m training prepare``: dataset source -> frame cache + manifest."""

import argparse
from pathlib import Path

from core.cli import add_deprecated_alias, settings_from
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import LAYOUTS, load_source
from video.decoding import VideoLimits


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare", help="decode a dataset once into the frame cache")
    parser.add_argument("--source", required=True, type=Path, help="dataset root folder")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto")
    parser.add_argument("--splits", type=Path, help="folder with classInd.txt/trainlist0K.txt/testlist0K.txt")
    parser.add_argument("--split-number", type=int, default=1, help="official UCF101 split (1-3)")
    parser.add_argument(
        "--classes", help="comma-separated class filter; 'all' for every class "
        "(default: the ten first-release classes for UCF101, all classes otherwise)",
    )  # fmt: skip
    parser.add_argument("--data", type=Path, help="prepared folder to write (default: <data>/prepared)")
    add_deprecated_alias(parser, "--out", "--data", dest="data", type=Path)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--num-clips", type=int, default=2, help="clips cached per video (video-level eval)")
    parser.add_argument("--keep-aspect", action="store_true", help="resize keeping aspect, centre crop")
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.set_defaults(handler=run_prepare)


def _class_filter(value: str | None, source: Path, layout: str) -> list[str] | None:
    if value is None:
        return None
    if value == "all":
        return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [name.strip() for name in value.split(",") if name.strip()]


def run_prepare(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    out = args.data or settings.prepared_dir
    clips = load_source(
        args.source, args.layout, splits_dir=args.splits, split_number=args.split_number,
        classes=_class_filter(args.classes, args.source, args.layout),
        val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed,
    )  # fmt: skip
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    config = PrepareConfig(args.num_frames, args.size, args.num_clips, args.keep_aspect)
    report = prepare_dataset(clips, out, config, workers=args.workers, limits=limits, source=str(args.source))
    counts = {split: sum(c.split == split for c in clips) for split in ("train", "val", "test")}
    print(
        f"prepared {report.prepared} clip(s), {report.resumed} already cached, "
        f"{len(report.failures)} failed -> {out}  (listed: {counts})"
    )
    for failure in report.failures:
        print(f"  failed: {failure['reason']}")
    return 0
