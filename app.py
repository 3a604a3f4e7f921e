"""``python app.py``: start the activity assistant's web page (http://127.0.0.1:7860 by default).

python app.py [--host 127.0.0.1] [--port 7860] [--data-dir DIR] [--kb-dir DIR] [--auth user:pass]
              [--llm auto|offline|gemini|local]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant.llm import PROVIDERS  # noqa: E402
from assistant.ui import launch_app  # noqa: E402
from training.cli_support import run_cli  # noqa: E402
from training.errors import AssistantError  # noqa: E402
from training.settings import Settings  # noqa: E402


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
    parser.add_argument("--data-dir", "--data", type=Path, help="data directory (default: $ACTIVITY_DATA_DIR or ./var)")
    parser.add_argument("--kb-dir", type=Path, help="knowledge-base folder (default: $ACTIVITY_KB_DIR or ./kb)")
    parser.add_argument("--auth", help="require this user:password to open the page")
    parser.add_argument("--llm", choices=PROVIDERS, help="answer writer (default: $ACTIVITY_LLM_PROVIDER or auto)")
    args = parser.parse_args(argv)
    overrides = {"data_dir": args.data_dir, "kb_dir": args.kb_dir, "llm_provider": args.llm}
    settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
    launch_app(settings, host=args.host, port=args.port, auth=parse_auth(args.auth), llm=args.llm)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
