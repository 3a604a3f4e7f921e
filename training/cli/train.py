"""``python -m training {train,evaluate,compare,predict}``: parse arguments, call the library."""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.cli import settings_from
from core.errors import ArtifactError
from training.distributed import process_group
from training.evaluate.compare import compare_runs
from training.evaluate.evaluation import evaluate, format_report
from training.fit.trainer import SCHEDULERS, TrainConfig, load_config, train
from training.models.frame_classifier import TEMPORAL_MODES
from training.models.inference import Classifier
from training.models.pretrained import PRETRAINED_MODES
from training.models.registry import model_names
from training.runs import resolve_run_dir
from video.decoding import VideoLimits

# Settings a resumed run may change; every other one is fixed by the run's args.json.
RESUMABLE = {"epochs", "patience", "device", "workers", "progress"}


def _flag(parser: argparse.ArgumentParser, name: str, help: str, value: bool = True, dest: str | None = None):
    parser.add_argument(name, action="store_const", const=value, default=None, dest=dest, help=help)


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model on a prepared dataset")
    p.add_argument("--model", choices=model_names(), help="model to train (required for a new run)")
    p.add_argument("--data", help="prepared dataset dir (default: <data>/prepared)")
    p.add_argument("--out", type=Path, help="runs dir for a new run, or a run dir (default: <data>/runs)")
    p.add_argument("--run-name", help="folder name of the run inside --out (default: <model>_<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--epochs", type=int, help="default 20")
    p.add_argument("--batch-size", type=int, help="default 8 (per process under torchrun)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, help="default 1e-4")
    p.add_argument("--scheduler", choices=SCHEDULERS, help="learning-rate schedule (default cosine)")
    p.add_argument("--patience", type=int, help="early stopping after N epochs without gain (0: off; default 5)")
    _flag(p, "--class-weights", "weight the loss by inverse class frequency")
    _flag(p, "--balanced", "sample classes equally often")
    p.add_argument("--grad-clip", type=float, help="max gradient norm (0: off; default 1.0)")
    p.add_argument("--seed", type=int, help="default 0; same seed, same result on the CPU")
    p.add_argument("--pretrained", choices=PRETRAINED_MODES, help="auto (default): weights if on disk")
    p.add_argument("--weights-file", help="upstream pretrained weights (a torchvision/EfficientNet .pth)")
    p.add_argument("--num-frames", type=int, help="frames per clip (default: the cache's)")
    p.add_argument("--crop-size", type=int, help="input size (default: the model's, capped by the cache)")
    p.add_argument("--temporal", choices=TEMPORAL_MODES, help="frame models: mean pooling or a temporal conv")
    _flag(p, "--freeze-backbone", "frame models: train only the head")
    _flag(
        p,
        "--pixels",
        "frozen frame models: train from decoded frames instead of the feature store (slower; the old path)",
        value=False,
        dest="cached_features",
    )
    p.add_argument("--dropout", type=float, help="default: the model's")
    p.add_argument("--workers", type=int, help="data loader processes (default 0)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
    _flag(p, "--no-amp", "disable mixed precision on CUDA", value=False, dest="amp")
    _flag(p, "--no-progress", "no progress bars", value=False, dest="progress")
    p.set_defaults(handler=run_train)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="score a checkpoint on a split (writes eval_<split>.json)")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt or its run dir")
    p.add_argument("--data", help="prepared dataset dir (default: <data>/prepared)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, help="where to write results (default: the run dir)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_false", dest="progress")
    p.set_defaults(handler=run_evaluate)


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="markdown table of runs side by side")
    p.add_argument("runs", nargs="+", type=Path, help="run dirs")
    p.add_argument("--split", default="test", help="which eval_<split>.json to read")
    p.set_defaults(handler=run_compare)


def _add_predict(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="top-k activities for video files")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt or its run dir")
    p.add_argument("videos", nargs="+", type=Path)
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--num-clips", type=int, default=1, help="segments per video, probabilities averaged")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run_predict)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    for add in (_add_train, _add_evaluate, _add_compare, _add_predict):
        add(subparsers)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    fields = set(TrainConfig.__dataclass_fields__)
    return {k: v for k, v in vars(args).items() if k in fields and v is not None}


def train_config(args: argparse.Namespace, run_dir: Path) -> TrainConfig:
    """A new run's config from the flags, or a resumed run's saved config plus allowed changes."""
    given = _given(args)
    if args.resume:
        saved = asdict(load_config(run_dir))
        fixed = sorted(k for k, v in given.items() if k not in RESUMABLE and v != saved[k])
        if fixed:
            raise ArtifactError(
                f"--{', --'.join(f.replace('_', '-') for f in fixed)} cannot change when resuming; "
                f"only {', '.join(sorted(RESUMABLE))} can. Start a new run instead."
            )
        return TrainConfig(**{**saved, **given})
    if "model" not in given:
        raise ArtifactError("--model is required for a new run (one of " + ", ".join(model_names()) + ").")
    given.setdefault("data", str(settings_from(args).prepared_dir))
    return TrainConfig(**given)


def run_train(args: argparse.Namespace) -> int:
    """One process, or one rank of a ``torchrun`` launch (the same command line on every rank)."""
    settings = settings_from(args)
    with process_group(settings.dist_timeout_s) as group:
        out = args.out or settings.runs_dir
        # Rank 0 names a new run (the name holds the time) and every rank uses that folder.
        run_dir = group.from_main(lambda: resolve_run_dir(out, args.model or "run", args.run_name, args.resume))
        config = train_config(args, run_dir)
        metrics = train(config, run_dir, resume=args.resume, argv=sys.argv, group=group)
    if group.is_main:
        print(
            f"{config.model}: best val accuracy {metrics['best_val_acc']:.3f} at epoch {metrics['best_epoch']} "
            f"({metrics['epochs_done']} epochs, {metrics['train_time_s']:.0f} s) -> {run_dir}"
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    data = args.data or settings_from(args).prepared_dir
    report = evaluate(
        args.checkpoint,
        data,
        args.split,
        out_dir=args.out,
        batch_size=args.batch_size,
        device=args.device,
        progress=args.progress,
    )
    print(format_report(report))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    print(compare_runs(args.runs, args.split))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    classifier = Classifier.from_checkpoint(args.checkpoint, device=args.device)
    for video in args.videos:
        top = classifier.predict_video(video, k=args.k, num_clips=args.num_clips, limits=limits)
        print(json.dumps({"video": str(video), "top_k": [[label, round(p, 4)] for label, p in top]}))
    return 0
