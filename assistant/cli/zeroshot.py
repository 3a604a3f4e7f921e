"""``python -m assistant zeroshot --data DIR --split test``: CLIP zero-shot top-1/top-5 on a labelled split."""

import argparse
from pathlib import Path

from assistant.cli.common import settings_from
from assistant.zeroshot.evaluation import evaluate_zero_shot, trained_results
from assistant.zeroshot.scorer import MAX_FRAMES, ZeroShotScorer
from core.atomic import atomic_write_json
from indexing.clip_model import ClipSettings
from indexing.knowledge_base import KnowledgeBase


def add_clip_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip-model", help="OpenCLIP model (default: $ACTIVITY_CLIP_MODEL or ViT-B-32)")
    parser.add_argument(
        "--clip-pretrained", help="open_clip tag (default: $ACTIVITY_CLIP_PRETRAINED or laion2b_s34b_b79k)"
    )
    parser.add_argument("--clip-weights", type=Path, help="CLIP weights file (default: $ACTIVITY_CLIP_WEIGHTS)")


def clip_settings_from(args: argparse.Namespace) -> ClipSettings:
    overrides = {"model": args.clip_model, "pretrained": args.clip_pretrained, "weights": args.clip_weights}
    return ClipSettings(**{key: value for key, value in overrides.items() if value is not None})


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    zeroshot = subparsers.add_parser("zeroshot", help="zero-shot CLIP accuracy of the KB activities on a split")
    zeroshot.add_argument("--data", type=Path, help="prepared dataset folder (default: <data>/prepared)")
    zeroshot.add_argument("--split", default="test")
    zeroshot.add_argument("--frames-per-clip", type=int, default=MAX_FRAMES)
    zeroshot.add_argument("--out", type=Path, help="JSON report (default: <data>/zeroshot_<split>.json)")
    add_clip_options(zeroshot)
    zeroshot.set_defaults(handler=run_zeroshot)


def run_zeroshot(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    scorer = ZeroShotScorer.load(clip_settings_from(args).spec(), settings.data_dir)
    kb = KnowledgeBase(settings.kb_dir, settings.chroma_dir)
    if kb.changed_since_sync():
        kb.sync()
    data = args.data or settings.prepared_dir
    report = evaluate_zero_shot(data, scorer, kb.entries(), split=args.split, frames_per_clip=args.frames_per_clip)
    out = atomic_write_json(args.out or settings.data_dir / f"zeroshot_{args.split}.json", report)
    print(
        f"zero-shot {report['model']} ({report['weights']}) on {report['num_samples']} {args.split} clips, "
        f"{len(report['activities'])} KB activities: top-1 {report['top1']:.3f}, top-5 {report['top5']:.3f}, "
        f"macro F1 {report['macro_f1']:.3f} -> {out}"
    )
    if report["unscorable_labels"]:
        skipped = ", ".join(f"{label} ({n})" for label, n in report["unscorable_labels"].items())
        print(f"not scored (no KB file for the label): {skipped}")
    for run, model, accuracy, top5 in trained_results(settings.runs_dir, data, args.split):
        top5_text = f", top-5 {top5:.3f}" if top5 is not None else ""
        print(f"trained   {run} ({model}): video accuracy {accuracy:.3f}{top5_text}")
    return 0
