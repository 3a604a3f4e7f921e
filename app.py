"""``python app.py``: the web app, the same as the ``activity-app`` command (its code: assistant/app.py)."""

import sys

from assistant.app import cli

if __name__ == "__main__":
    sys.exit(cli())
