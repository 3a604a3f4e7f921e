"""``python -m indexing frames|add|remove``: build the frame index (torchrun shares it out), add or remove clips."""

import argparse
from pathlib import Path

from core.cli import settings_from
from core.labels import NEGATIVE_LABEL, checked_label
from indexing.cli.common import add_index_dir_option, index_dir_from
from indexing.encoders.onnx_encoder import runtime_encoder
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import add_videos, build_frame_index, remove_clips
from indexing.frames.index_types import INDEX_KINDS
from training.distributed import process_group
from video.decoding import VideoLimits


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    frames = subparsers.add_parser("frames", help="embed frames of a prepared dataset into a new frame index")
    frames.add_argument("--data", type=Path, help="prepared dataset folder (default: <data>/prepared)")
    frames.add_argument(
        "--encoder",
        default="auto",
        help="auto | effnet_lite0[@size] | resnet50[@size] | checkpoint:<path> | clip:<model>[:<tag|weights file>]",
    )
    frames.add_argument("--frames-per-clip", type=int, default=8)
    frames.add_argument(
        "--index-type", default="flat", help=f"{' | '.join(INDEX_KINDS)} or a FAISS factory string (flat is exact)"
    )
    frames.add_argument("--nprobe", type=int, help="IVF lists searched per query (default: lists/16)")
    frames.add_argument("--ef-search", type=int, help="HNSW search breadth (default: 128)")
    frames.add_argument("--splits", default="train", help="comma-separated splits to index (default: train)")
    frames.add_argument(
        "--device", help="where the encoder runs: auto (a GPU when present; default: $ACTIVITY_DEVICE), cpu, cuda:1 ..."
    )
    add_index_dir_option(frames)
    frames.set_defaults(handler=run_frames)

    add = subparsers.add_parser("add", help="append labelled videos to the frame index (no rebuild)")
    add.add_argument("videos", nargs="+", type=Path)
    label = add.add_mutually_exclusive_group(required=True)
    label.add_argument("--label", help="the activity the clips show")
    label.add_argument(
        "--negative", action="store_true", help='clips of "none of these": activities to be called unknown'
    )
    add.add_argument("--encoder", help="must match the index (default: the index's own encoder)")
    add_index_dir_option(add)
    add.set_defaults(handler=run_add)

    remove = subparsers.add_parser("remove", help="delete clips' vectors from the frame index")
    remove.add_argument("clip_ids", nargs="+", metavar="CLIP_ID")
    add_index_dir_option(remove)
    remove.set_defaults(handler=run_remove)


def run_frames(args: argparse.Namespace) -> int:
    """One process, or one rank of a ``torchrun`` launch: each rank embeds a share, rank 0 writes the index."""
    settings = settings_from(args)
    with process_group(settings.dist_timeout_s) as group:
        # Under torchrun on GPUs, each rank embeds its share on its own GPU (LOCAL_RANK).
        index = build_frame_index(
            args.data or settings.prepared_dir,
            index_dir_from(args),
            runtime_encoder(get_encoder(args.encoder).to(group.device(args.device or settings.device)), settings),
            frames_per_clip=args.frames_per_clip,
            splits=[s.strip() for s in args.splits.split(",") if s.strip()],
            index_type=args.index_type,
            nprobe=args.nprobe,
            ef_search=args.ef_search,
            group=group,
        )
    if index is None:
        return 0  # another rank than 0: rank 0 reports
    manifest = index.manifest
    print(
        f"indexed {manifest['count']} frames of {manifest['clips']} clips ({len(manifest['classes'])} classes) "
        f"with {manifest['encoder']['name']} ({manifest['dim']}-d, {manifest['index_type']['factory']}) "
        f"in {manifest['build_time_s']} s on {len(manifest['clips_per_rank'])} rank(s) -> {index.root}"
    )
    return 0


def run_add(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    label = NEGATIVE_LABEL if args.negative else checked_label(args.label)
    added, frames = add_videos(
        index_dir_from(args),
        args.videos,
        label,
        encoder_name=args.encoder,
        limits=limits,
        new_library_size=settings.frame_size,
    )
    print(f"added {len(added)} clip(s) as {label!r}: {', '.join(added)}; index holds {frames} frames")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    removed, frames = remove_clips(index_dir_from(args), args.clip_ids)
    print(f"removed {removed} frame vector(s) of {len(args.clip_ids)} clip(s); index holds {frames} frames")
    return 0
