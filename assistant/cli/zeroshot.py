"""``python -m assistant zeroshot --data DIR --split test``: CLIP zero-shot top-1/top-5 on a labelled split."""

import argparse
from pathlib import Path

from assistant.zeroshot.evaluation import evaluate_zero_shot, trained_results
from assistant.zeroshot.scorer import MAX_FRAMES, ZeroShotScorer
from core.atomic import atomic_write_json
from core.cli import settings_from
from indexing.encoders.openclip_model import clip_spec
from indexing.kb.knowledge_base import KnowledgeBase


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    zeroshot = subparsers.add_parser("zeroshot", help="zero-shot CLIP accuracy of the KB activities on a split")
    zeroshot.add_argument("--data", type=Path, help="prepared dataset folder (default: <data>/prepared)")
    zeroshot.add_argument("--split", default="test")
    zeroshot.add_argument("--frames-per-clip", type=int, default=MAX_FRAMES)
    zeroshot.add_argument("--out", type=Path, help="JSON report (default: <data>/zeroshot_<split>.json)")
    zeroshot.set_defaults(handler=run_zeroshot)


def run_zeroshot(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    scorer = ZeroShotScorer.load(clip_spec(settings), settings.data_dir)
    kb = KnowledgeBase.from_settings(settings)
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
