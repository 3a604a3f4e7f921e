"""``python -m training download ucf101|URL``: fetch a dataset into the tree ``prepare`` reads."""

import argparse
from pathlib import Path

from core.cli import settings_from
from core.errors import DatasetError
from training.data.download.source import is_url, unpack_url
from training.data.download.ucf101 import download_ucf101
from training.data.sources import DEFAULT_CLASSES


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download UCF101 (resumable, with mirrors) or an archive URL and unpack it for prepare",
        description="Archives are kept in <data>/downloads: an interrupted run resumes where it stopped, and "
        "asking for more classes later only unpacks again. Mirror URLs and checksums are settings "
        "(ACTIVITY_UCF101_VIDEO_URLS, ACTIVITY_UCF101_SPLITS_URLS, ACTIVITY_DOWNLOAD_SHA256).",
    )
    parser.add_argument("dataset", help="ucf101, or the http(s) URL of a zip / tar(.gz) / rar of a dataset folder")
    parser.add_argument("--dest", type=Path, help="folder for the unpacked tree (default: <data>/datasets)")
    parser.add_argument(
        "--classes",
        default="ten",
        help="UCF101: ten (the first-release classes, default), all, or comma-separated class names",
    )
    parser.set_defaults(handler=run_download)


def run_download(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    dest = args.dest or settings.datasets_dir
    if args.dataset.lower() == "ucf101":
        tree = download_ucf101(dest, settings, args.classes)
        root = tree.root
        done = f"unpacked {tree.clips} clips" if tree.video_url else "already held"
        print(f"UCF101: {done} of {len(tree.classes)} classes in {root}")
        prepare_flags = "" if set(tree.classes) == set(DEFAULT_CLASSES) else " --classes all"
    elif is_url(args.dataset):
        root = unpack_url(args.dataset, settings, dest)
        print(f"unpacked {args.dataset} into {root}")
        prepare_flags = ""
    else:
        raise DatasetError(f"{args.dataset!r}: give ucf101 or the http(s) URL of an archive.")
    print(f"next: python -m training prepare --source {root}{prepare_flags}")
    return 0
