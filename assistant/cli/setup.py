"""``python -m assistant setup --source <folder | ucf101 | archive URL>``: a working assistant from a dataset."""

import argparse

from tqdm import tqdm

from assistant.jobs.setup_pipeline import SetupOptions, run_setup
from core.cli import add_deprecated_alias, settings_from
from core.errors import DatasetError
from training.data.sources import LAYOUTS

DEFAULTS = SetupOptions()


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "setup",
        help="prepare a dataset, train the default model, index frames, sync the KB and activate it",
    )
    parser.add_argument(
        "--source",
        help="dataset folder (one sub-folder per activity, or UCF101), or `ucf101` to download UCF101 "
        "(resumable, with mirrors; the ten first-release classes), or the http(s) URL of a zip / tar(.gz) / rar "
        "of such a folder. A folder literally named ucf101 is ./ucf101",
    )
    add_deprecated_alias(parser, "--data", "--source", dest="source")
    parser.add_argument("--layout", choices=LAYOUTS, default=DEFAULTS.layout)
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    parser.add_argument("--num-frames", type=int, default=DEFAULTS.num_frames, help="frames sampled per clip")
    parser.add_argument("--size", type=int, default=DEFAULTS.size, help="decoded frame size (pixels)")
    parser.add_argument(
        "--encoder", default=DEFAULTS.encoder, help="frame encoder for the index (default: the classifier's backbone)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULTS.workers, help="decoding processes")
    parser.add_argument("--no-calibrate", action="store_true", help="keep the default fusion settings")
    parser.add_argument(
        "--pixels",
        action="store_false",
        dest="cached_features",
        help="train from decoded frames every epoch instead of cached features (slower; for comparison)",
    )
    parser.set_defaults(handler=run_setup_command)


def run_setup_command(args: argparse.Namespace) -> int:
    if not args.source:
        raise DatasetError("setup needs --source: a dataset folder, ucf101, or the URL of an archive.")
    options = SetupOptions(
        layout=args.layout,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_frames=args.num_frames,
        size=args.size,
        encoder=args.encoder,
        workers=args.workers,
        cached_features=args.cached_features,
        calibrate=not args.no_calibrate,
    )
    with tqdm(total=100, desc="setup", unit="%", position=0) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:60])
            bar.update(round(fraction * 100) - bar.n)

        report = run_setup(args.source, settings_from(args), options, progress=progress)
    print(report.summary())
    flags = "".join(
        f" --{name.replace('_', '-')} {value}" for name in ("data_dir", "kb_dir") if (value := getattr(args, name))
    )
    print(f"\nStart the app with `python app.py{flags}` and open http://127.0.0.1:7860")
    return 0
