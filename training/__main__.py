"""``python -m training {download,prepare,train,evaluate,compare,predict,export}``: parse arguments, run the library."""

import sys

from core.cli import build_parser, dispatch, run_cli
from training.cli import download, export, prepare, train

COMMAND_MODULES = [download, prepare, train, export]


def parser():
    return build_parser("python -m training", __doc__, COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return dispatch(parser(), argv)


def cli() -> int:
    """The ``activity-training`` console script, the same as ``python -m training``."""
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(cli())
