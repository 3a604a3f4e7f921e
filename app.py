"""``python app.py``: start the activity assistant's web page (placeholder until the UI lands)."""

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    with gr.Blocks(title="Activity assistant") as demo:
        gr.Markdown("# Activity assistant\nThe assistant is being built; see README.md.")
    demo.launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
