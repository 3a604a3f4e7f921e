"""A real small language model through llama-cpp (the ``local`` extra with the default GGUF,
installed by ``make test``) answering about the synthetic clips: what it writes reaches the user
only when it passes the grounding check, and is replaced by the offline answer otherwise. The
grammar (``answer_grammar``) lets the model only choose among fact sentences written from the
evidence, so every answer passes and reads as prose.

Time-boxed: the model writes at most 120 tokens per answer; the whole module has a timeout.
Speed targets are measured by ``benchmarks/llm.py``, not asserted here.
"""

import importlib.util
import os

import pytest

from assistant.answering.answer_grammar import fact_sentences
from assistant.answering.chain import Replacement, collect_answer
from assistant.answering.compact_prompt import compact_inputs, compact_prompt, lead_sentence
from assistant.answering.llm.local import LlamaCppChat, local_model
from assistant.answering.prompt import answer_prompt, prompt_inputs
from assistant.service import DEFAULT_QUESTION, Assistant
from core.errors import LLMError
from testkit.readability import readability_problems

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]  # a real GGUF model answering
ASSISTANT_TURN = {"gemma3-270m": "<start_of_turn>model\n", "smollm2-135m": "<|im_start|>assistant\n"}


@pytest.fixture(scope="module")
def local_assistant(assistant_settings, assistant_resources) -> Assistant:
    settings = assistant_settings.model_copy(update={"llm_provider": "local"})
    try:
        local_model(settings)
    except LLMError as error:
        if os.environ.get("CI") or importlib.util.find_spec("llama_cpp") is not None:
            pytest.fail(f"the local extra is installed but its model is not usable: {error}")
        pytest.skip(f"the local extra is not installed (make test installs it): {error}")
    assistant = Assistant(settings, resources=assistant_resources)
    assert assistant.backend.provider == "local", assistant.llm_note
    return assistant


@pytest.fixture(scope="module")
def fall_evidence(local_assistant, query_clips):
    return local_assistant.analyse(query_clips["Fall"])


def test_every_local_answer_is_shown_only_if_it_passes_the_grounding_check(local_assistant, query_clips):
    passed = 0
    for path in query_clips.values():
        evidence = local_assistant.analyse(path)
        chunks = list(local_assistant.answer_stream(DEFAULT_QUESTION, evidence))
        answer = collect_answer(chunks)
        check = evidence.answer_check
        assert check is not None and check.writer == local_assistant.backend.name
        if check.passed:
            passed += 1
            assert not any(isinstance(chunk, Replacement) for chunk in chunks)
            # The answer opens with the verdict sentence written from the evidence, then the model's words.
            assert answer.startswith(lead_sentence(evidence))
            assert len(answer) > len(chunks[0]), "the model wrote nothing after the lead"
            assert "<|im_" not in answer and "<end_of_turn>" not in answer
            # The grammar: two or three of the fact sentences written from the evidence, nothing else.
            chosen = [fact for fact in fact_sentences(evidence, evidence.kb_passages) if fact in answer]
            assert 2 <= len(chosen) <= 3 and len(answer) == len(chunks[0]) + sum(len(f) + 1 for f in chosen)
            assert readability_problems(answer, evidence) == []
        else:
            assert isinstance(chunks[-1], Replacement)
            assert answer.startswith("> **Note:** the model's answer (local model (")
            assert "; ".join(check.problems) in answer.splitlines()[0]
            assert "*Offline answerer" in answer
    print(f"local answers that passed the grounding check: {passed}/{len(query_clips)}")
    assert passed == len(query_clips), "every answer the grammar allows is grounded"


def test_small_models_get_a_prompt_a_quarter_the_size_or_less(local_assistant, fall_evidence):
    model: LlamaCppChat = local_assistant.backend.model
    passages = fall_evidence.kb_passages
    compact = compact_prompt().invoke(compact_inputs(DEFAULT_QUESTION, fall_evidence, passages, [])).to_messages()
    full = answer_prompt().invoke(prompt_inputs(DEFAULT_QUESTION, fall_evidence, passages, [])).to_messages()
    compact_tokens, lead = model.prompt_tokens(compact)
    full_tokens, _ = model.prompt_tokens(full)
    assert lead == "The clip shows **Fall** (" + f"{fall_evidence.verdict.confidence:.0%} confidence)."
    assert len(compact_tokens) < 300 and 4 * len(compact_tokens) < len(full_tokens)  # measured: 175 vs 1354
    # The model's own turn format, ending in the assistant's turn and the lead it continues.
    text = model._model().detokenize(compact_tokens, special=True).decode()
    assert text.endswith(ASSISTANT_TURN[local_assistant.settings.local_model] + lead), text[-200:]


def test_follow_up_question_is_answered_and_checked(local_assistant, fall_evidence):
    evidence = fall_evidence.model_copy(deep=True)
    history = [("user", DEFAULT_QUESTION), ("assistant", "The clip shows **Fall**.")]
    answer = local_assistant.answer("How is it different from a slide?", evidence, history)
    assert evidence.answer_check is not None and evidence.answer_check.passed, evidence.answer_check
    assert answer.startswith("The clip shows **Fall**") and readability_problems(answer, evidence) == []
