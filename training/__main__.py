"""``python -m training {download,prepare,train,evaluate,compare,predict}``: parse arguments, call the library."""

import sys

from core.cli import build_parser, dispatch, run_cli
from training.cli import download, prepare, train

COMMAND_MODULES = [download, prepare, train]


def parser():
    return build_parser("python -m training", __doc__, COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return dispatch(parser(), argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
