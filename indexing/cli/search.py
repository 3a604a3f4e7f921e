"""``python -m indexing search|evaluate``: nearest clips for a video; retrieval as a classifier."""

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from core.atomic import atomic_write_json
from core.cli import settings_from
from indexing.cli.common import add_index_dir_option, index_dir_from
from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import ClipSearchResult, search_video
from indexing.frames.frame_index import FrameIndex, open_frame_index
from indexing.frames.retrieval_eval import evaluate_retrieval
from indexing.frames.text_search import search_text
from video.decoding import VideoLimits


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser("search", help="find the indexed clips most like a video, or matching --text")
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("video", type=Path, nargs="?")
    query.add_argument("--text", help='a description, e.g. "someone riding a wave" (needs a clip:* index)')
    search.add_argument("--k", type=int, default=10, help="number of neighbour clips")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.add_argument("--encoder", help="must match the index (default: the index's own encoder)")
    add_index_dir_option(search)
    search.set_defaults(handler=run_search)

    evaluate = subparsers.add_parser("evaluate", help="kNN-vote accuracy of the index on a held-out split")
    evaluate.add_argument("--data", type=Path, help="prepared dataset folder (default: <data>/prepared)")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument("--out", type=Path, help="JSON report path (default: <index>/eval_<split>.json)")
    add_index_dir_option(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def format_result(result: ClipSearchResult) -> str:
    lines = [f"{'rank':>4}  {'score':>6}  {'label':<20} {'clip':<32} {'time_s':>7}  thumbnail"]
    for rank, n in enumerate(result.neighbours, 1):
        time_s = f"{n.frame_time_s:.2f}" if n.frame_time_s is not None else "-"
        lines.append(f"{rank:>4}  {n.score:6.3f}  {n.label:<20} {n.clip_id:<32} {time_s:>7}  {n.thumbnail or '-'}")
    votes = ", ".join(f"{label} {share:.0%}" for label, share in result.vote.items())
    lines.append(f"vote: {votes or '(no neighbours)'}")
    return "\n".join(lines)


def run_search(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.text is not None:
        encoder = get_encoder(args.encoder) if args.encoder else None
        result = search_text(FrameIndex.load(index_dir_from(args)), args.text, args.k, encoder=encoder)
    else:
        index, encoder = open_frame_index(index_dir_from(args), args.encoder)
        limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
        result = search_video(index, encoder, args.video, args.k, limits=limits)
    print(json.dumps(asdict(result), indent=2) if args.json else format_result(result))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    index_dir = index_dir_from(args)
    index, encoder = open_frame_index(index_dir)
    report = evaluate_retrieval(args.data or settings.prepared_dir, index, encoder, split=args.split, k=args.k)
    out = atomic_write_json(args.out or index_dir / f"eval_{args.split}.json", report)
    k = args.k
    print(
        f"kNN vote ({report['encoder']}, k={k}) on {report['num_samples']} {args.split} clips: "
        f"accuracy {report['accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}, "
        f"hit@{k} {report[f'hit_at_{k}']:.3f}, precision@{k} {report[f'precision_at_{k}']:.3f} -> {out}"
    )
    return 0
