"""``python -m training {prepare,train,evaluate,compare,predict}``: parse arguments, call the library."""

import argparse
import sys

from training import cli_prepare, cli_train
from training.cli_support import run_cli

COMMAND_MODULES = [cli_prepare, cli_train]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_subcommands(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
