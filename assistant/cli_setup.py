"""``python -m assistant setup --data <dataset dir>``: a working assistant from a folder of clips."""

import argparse
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from assistant.setup_pipeline import SetupOptions, run_setup
from training.settings import Settings
from training.sources import LAYOUTS

DEFAULTS = SetupOptions()


def add_subcommand(
    commands: argparse._SubParsersAction, settings_from: Callable[[argparse.Namespace], Settings]
) -> None:
    parser = commands.add_parser(
        "setup",
        help="prepare a dataset, train the default model, index frames, sync the KB and activate it",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="dataset folder (one sub-folder per activity, or UCF101)"
    )
    parser.add_argument("--layout", choices=LAYOUTS, default=DEFAULTS.layout)
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    parser.add_argument("--num-frames", type=int, default=DEFAULTS.num_frames, help="frames sampled per clip")
    parser.add_argument("--size", type=int, default=DEFAULTS.size, help="decoded frame size (pixels)")
    parser.add_argument("--encoder", default=DEFAULTS.encoder, help="frame encoder for the index (default: auto)")
    parser.add_argument("--workers", type=int, default=DEFAULTS.workers, help="decoding processes")
    parser.add_argument("--no-calibrate", action="store_true", help="keep the default fusion settings")
    parser.set_defaults(handler=lambda args: run(args, settings_from(args)))


def run(args: argparse.Namespace, settings: Settings) -> int:
    options = SetupOptions(
        layout=args.layout,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_frames=args.num_frames,
        size=args.size,
        encoder=args.encoder,
        workers=args.workers,
        calibrate=not args.no_calibrate,
    )
    with tqdm(total=100, desc="setup", unit="%", position=0) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:60])
            bar.update(round(fraction * 100) - bar.n)

        report = run_setup(args.data, settings, options, progress=progress)
    print(report.summary())
    print("\nStart the app with `python app.py` and open http://127.0.0.1:7860")
    return 0
