"""Models, frame encoders and answer writers are found by name from the files that define them:
a new file in the registry's package is registered without editing any list."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import AssistantError
from core.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def package(tmp_path, monkeypatch):
    """An importable package ``regprobe_<n>`` whose ``__init__`` holds a registry of its own modules."""
    name = f"regprobe_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text(f"from core.registry import Registry\nTHINGS = Registry('thing', {name!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, folder
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def _module(folder: Path, file: str, body: str) -> None:
    (folder / file).write_text(f"from {folder.name} import THINGS\n{textwrap.dedent(body)}")


def test_every_module_of_the_package_registers_itself_before_the_first_lookup(package):
    name, folder = package
    _module(folder, "first.py", "THINGS.add('one', 1)\n")
    _module(folder, "second.py", "def double(x):\n    return 2 * x\n\n\nTHINGS.add('double', double)\n")
    _module(folder, "_private.py", "THINGS.add('hidden', 0)\n")
    things: Registry = __import__(name).THINGS
    assert f"{name}.first" not in sys.modules  # nothing imported the files yet
    assert things.names() == ("double", "one")  # sorted; a _private module is not imported
    assert things.get("one") == 1 and things.get("double")(4) == 8
    assert "hidden" not in things.names()
    assert things.items() == [("double", things.get("double")), ("one", 1)]


def test_an_unknown_name_lists_the_registered_ones_and_a_name_taken_twice_is_refused(package):
    name, folder = package
    _module(folder, "first.py", "THINGS.add('one', 1)\n")
    things: Registry = __import__(name).THINGS
    with pytest.raises(AssistantError, match=r"Unknown thing 'two'; choose one of one\."):
        things.get("two")
    things.add("one", 1)  # the same entry again (a module imported twice) is fine
    with pytest.raises(AssistantError, match="Two things are registered as 'one'"):
        things.add("one", 2)


def test_a_module_that_fails_to_import_is_not_hidden(package):
    name, folder = package
    _module(folder, "broken.py", "raise ImportError('needs a package that is not installed')\n")
    things: Registry = __import__(name).THINGS
    for _ in range(2):  # the second lookup retries, and fails the same way
        with pytest.raises(ImportError, match="not installed"):
            things.names()


def _run(script: str) -> str:
    """``script`` in a fresh interpreter (its registries not yet filled)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_new_model_file_in_the_zoo_is_trained_by_name(tmp_path):
    (tmp_path / "tiny.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            from training.models.registry import IMAGENET_MEAN, IMAGENET_STD, register_model

            @register_model(name="tiny", input_size=16, mean=IMAGENET_MEAN, std=IMAGENET_STD, frame_model=False,
                            description="a probe", saliency_layer="0")
            def build_tiny(num_classes):
                layers = nn.Conv3d(3, 4, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, num_classes)
                return nn.Sequential(*layers)
            """
        )
    )
    out = _run(
        f"""
        import torch, training.models.zoo as zoo
        zoo.__path__.append({str(tmp_path)!r})
        from training.models.registry import build_model, model_names
        from training.__main__ import parser
        model = build_model("tiny", 5)
        print(model_names(), tuple(model(torch.zeros(2, 3, 4, 16, 16)).shape))
        print(parser().parse_args(["train", "--model", "tiny"]).model)
        """
    )
    assert out.splitlines() == ["('cnn3d', 'effnet_frames', 'r3d18', 'resnet50', 'tiny') (2, 5)", "tiny"]


def test_a_new_encoder_family_is_found_by_the_names_it_owns(tmp_path):
    (tmp_path / "constant.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from indexing.encoders.base import FrameEncoder
            from indexing.encoders.family import ENCODER_FAMILIES, EncoderFamily, prefixed

            class Constant(FrameEncoder):
                def __init__(self, dim):
                    self.name, self.dim, self.preprocessing = f"const:{dim}", dim, "none"

                def to(self, device):
                    return self

                def _embed_batch(self, frames):
                    return np.ones((len(frames), self.dim))

            ENCODER_FAMILIES.add("constant", EncoderFamily(
                owns=prefixed("const:"), build=lambda name: Constant(int(name[6:])),
                cache_key=lambda name: name, examples=("const:<dim>",)))
            """
        )
    )
    out = _run(
        f"""
        import numpy as np, indexing.encoders as encoders
        encoders.__path__.append({str(tmp_path)!r})
        from indexing.encoders.registry import encoder_names, get_encoder
        encoder = get_encoder("const:3")
        vectors = encoder.encode(np.zeros((2, 8, 8, 3), np.uint8))
        print(encoder_names(), [[round(float(v), 3) for v in row] for row in vectors])
        print(get_encoder("const:3") is encoder)
        try:
            get_encoder("nothing")
        except Exception as error:
            print(error)
        """
    )
    names = "('auto', 'checkpoint:<path>', 'const:<dim>', 'clip:ViT-B-32', 'effnet_lite0', 'resnet50')"
    assert out.splitlines() == [
        f"{names} [[0.577, 0.577, 0.577], [0.577, 0.577, 0.577]]",
        "True",  # built once, then cached
        "Unknown encoder 'nothing'; choose one of auto, checkpoint:<path>, const:<dim>, clip:ViT-B-32, "
        "effnet_lite0, resnet50.",
    ]


def test_a_new_answer_writer_is_chosen_by_llm_and_ranked_by_auto(tmp_path):
    (tmp_path / "echo.py").write_text(
        textwrap.dedent(
            """
            from assistant.answering.llm.writer import WRITERS, AnswerWriter, ChatBackend

            # auto tries it before Gemini whenever the data folder is named "echo"
            WRITERS.add("echo", AnswerWriter(lambda settings: ChatBackend("echo", "the echo writer"),
                        configured=lambda settings: settings.data_dir.name == "echo", auto_rank=-1))
            """
        )
    )
    out = _run(
        f"""
        import assistant.answering.llm as llm
        llm.__path__.append({str(tmp_path)!r})
        from assistant.__main__ import parser
        from assistant.answering.llm import provider_names, resolve_provider, select_backend
        from core.settings import Settings
        print(provider_names())
        print(select_backend(Settings(llm_provider="echo")).name)
        print(resolve_provider(Settings(data_dir="echo", google_api_key="k")),
              resolve_provider(Settings(data_dir="var", google_api_key="k")))
        print(parser().parse_args(["--llm", "echo", "ask", "clip.mp4"]).llm)
        try:
            select_backend(Settings(llm_provider="nothing"))
        except Exception as error:
            print(type(error).__name__, error)
        """
    )
    assert out.splitlines() == [
        "('auto', 'echo', 'gemini', 'local', 'offline', 'openai')",
        "the echo writer",
        "echo gemini",
        "echo",
        "LLMError Unknown answer writer 'nothing'; choose one of echo, gemini, local, offline, openai.",
    ]
