"""``python -m assistant {ask,calibrate,setup,zeroshot}``: parse arguments, call the library.

python -m assistant ask clip.mp4 "what is happening in this clip?"
python -m assistant ask clips/ --json > answers.jsonl
python -m assistant calibrate --data var/prepared
python -m assistant zeroshot --data var/prepared --split test
"""

import argparse
import sys

from assistant.cli import ask, calibrate, setup, zeroshot
from assistant.cli.common import add_global_options
from core.cli import dispatch, run_cli

COMMAND_MODULES = [ask, calibrate, setup, zeroshot]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_global_options(parser)
    return dispatch(parser, COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
