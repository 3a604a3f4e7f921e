"""``python -m assistant {ask,bundle,calibrate,explain,setup,watch,zeroshot}``: parse arguments, call the library.

python -m assistant ask clip.mp4 "what is happening in this clip?"
python -m assistant ask clips/ --json > answers.jsonl
python -m assistant calibrate --data var/prepared
python -m assistant zeroshot --data var/prepared --split test
python -m assistant explain clip.mp4 --label Diving --out explained/
python -m assistant watch rtsp://camera.local/stream --json
python -m assistant bundle --out edge-bundle/          then, on the small machine:
python -m assistant --bundle edge-bundle/ ask clip.mp4
"""

import sys

from assistant.answering.llm.backend import llm_options
from core.cli import (
    BUNDLE_OPTIONS,
    CLIP_OPTIONS,
    DEVICE_OPTIONS,
    KB_OPTIONS,
    LOCATION_OPTIONS,
    RUNTIME_OPTIONS,
    build_parser,
    command_modules,
    dispatch,
    run_cli,
)

# ask and watch answer from a bundle without torch; the others need the full install.
COMMANDS = ("ask", "bundle", "calibrate", "explain", "setup", "watch", "zeroshot")
GLOBAL_OPTIONS = (
    *LOCATION_OPTIONS,
    *BUNDLE_OPTIONS,
    *DEVICE_OPTIONS,
    *RUNTIME_OPTIONS,
    *KB_OPTIONS,
    *llm_options(),
    *CLIP_OPTIONS,
)


def parser():
    return build_parser("python -m assistant", __doc__, command_modules("assistant.cli", COMMANDS), GLOBAL_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    return dispatch(parser(), argv)


def cli() -> int:
    """The ``activity-assistant`` console script, the same as ``python -m assistant``."""
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(cli())
