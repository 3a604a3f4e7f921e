"""``python -m assistant {ask,calibrate,setup}``: parse arguments, call the library.

python -m assistant ask clip.mp4 "what is happening in this clip?"
python -m assistant ask clips/ --json > answers.jsonl
python -m assistant calibrate --data var/prepared
"""

import argparse
import sys

from assistant import cli_ask, cli_calibrate, cli_setup
from assistant.cli_common import add_global_options, settings_from
from training.cli_support import run_cli

COMMAND_MODULES = [cli_ask, cli_calibrate]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_global_options(parser)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_subcommands(subparsers)
    cli_setup.add_subcommand(subparsers, settings_from)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
