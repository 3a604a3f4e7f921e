"""``activity-app`` or ``python app.py``: start the activity assistant's web page (http://127.0.0.1:7860 by default).

python app.py [--host 127.0.0.1] [--port 7860] [--data-dir DIR] [--kb-dir DIR] [--auth user:pass | --no-auth]
              [--llm auto|offline|gemini|openai|local] [--bundle DIR: answer from a bundle, without torch]
"""

import argparse
import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant.__main__ import GLOBAL_OPTIONS  # noqa: E402
from assistant.ui import launch_app  # noqa: E402
from assistant.ui.exposure import exposure_line, exposure_refusal, is_loopback  # noqa: E402
from core.cli import add_global_options, run_cli, settings_from  # noqa: E402
from core.errors import AssistantError  # noqa: E402


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("--auth must be user:password")
    return user, password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--auth", help="require this user:password to open the page")
    parser.add_argument(
        "--no-auth", action="store_true", help="serve a --host other than loopback without a password, knowingly"
    )
    add_global_options(parser, GLOBAL_OPTIONS)
    args = parser.parse_args(argv)
    settings = settings_from(args, GLOBAL_OPTIONS)
    auth = parse_auth(args.auth)
    if refusal := exposure_refusal(args.host, auth is not None, args.no_auth, settings):
        raise AssistantError(refusal)
    if auth is None and not is_loopback(args.host):
        logging.getLogger("app").warning("%s (--no-auth)", exposure_line(args.host, settings))
    launch_app(settings, host=args.host, port=args.port, auth=auth)
    return 0


def cli() -> int:
    """The ``activity-app`` console script."""
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(cli())
