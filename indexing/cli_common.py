"""Options every ``python -m indexing`` command shares: where the data and the index live."""

import argparse
from pathlib import Path

from core.settings import Settings


def add_location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $ACTIVITY_DATA_DIR or ./var)")
    parser.add_argument("--index-dir", type=Path, help="frame index folder (default: <data>/frame_index)")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}
    if getattr(args, "kb_dir", None):
        overrides["kb_dir"] = args.kb_dir
    return Settings(**overrides)


def index_dir_from(args: argparse.Namespace) -> Path:
    return args.index_dir or settings_from(args).index_dir
