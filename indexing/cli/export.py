"""``python -m indexing export-encoder``: the frame encoder's backbone as ONNX, for ``--runtime onnx|auto``."""

import argparse
import json
from pathlib import Path

from core.cli import settings_from
from indexing.cli.common import add_index_dir_option, index_dir_from
from indexing.encoders.encoder_export import check_frames_from, export_encoder
from indexing.encoders.registry import get_encoder
from indexing.frames.frame_index import MANIFEST_FILE


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-encoder",
        help="export the frame encoder to ONNX (checked against torch on cached frames)",
        description="Writes <data>/exports/encoders/<feature key>.onnx; the app, `assistant ask` and "
        "`indexing frames` use it under --runtime onnx, and under auto when it agreed and ran faster.",
    )
    p.add_argument("--encoder", help="encoder name (default: the frame index's encoder, else auto)")
    p.add_argument("--data", type=Path, help="prepared frames to check the export on (default: <data>/prepared)")
    add_index_dir_option(p)
    p.set_defaults(handler=run_export_encoder)


def run_export_encoder(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    name = args.encoder
    manifest = index_dir_from(args) / MANIFEST_FILE
    if name is None and manifest.is_file():
        name = json.loads(manifest.read_text(encoding="utf-8"))["encoder"]["name"]
    encoder = get_encoder(name or "auto")
    path = export_encoder(encoder, settings.exports_dir, check_frames_from(args.data or settings.prepared_dir))
    print(path)
    return 0
