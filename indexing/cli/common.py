"""The option ``python -m indexing`` commands that read or write the frame index share."""

import argparse
from pathlib import Path

from core.cli import settings_from


def add_index_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", type=Path, help="frame index folder (default: <data>/frame_index)")


def index_dir_from(args: argparse.Namespace) -> Path:
    return args.index_dir or settings_from(args).index_dir
