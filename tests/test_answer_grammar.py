"""The grammar that shapes a small local model's answer (``assistant/answering/answer_grammar.py``):
llama.cpp accepts it, and every answer it allows, on every synthetic clip's real evidence, passes
the grounding check and the readability check, so what the model chooses cannot be garbled."""

from itertools import combinations

import pytest

from assistant.answering.answer_grammar import MAX_SENTENCES, answer_grammar, fact_sentences
from assistant.answering.chain import known_activities
from assistant.answering.compact_prompt import lead_sentence
from assistant.answering.grounding import check_answer, grounds_for
from assistant.service import Assistant
from testkit.readability import readability_problems


@pytest.fixture(scope="module")
def evidences(assistant_settings, assistant_resources, query_clips):
    assistant = Assistant(assistant_settings, resources=assistant_resources, llm="offline")
    return [assistant.analyse(path) for path in query_clips.values()]


def test_every_answer_the_grammar_allows_is_grounded_and_readable(evidences, assistant_resources):
    activities = known_activities(assistant_resources.kb)
    checked = 0
    for evidence in evidences:
        facts = fact_sentences(evidence, evidence.kb_passages)
        assert len(facts) >= 3, facts  # classifier, similar clips, runners-up or a KB cue
        grounds = grounds_for(evidence, evidence.kb_passages, activities)
        for size in range(2, MAX_SENTENCES + 1):
            for chosen in combinations(facts, size):
                answer = lead_sentence(evidence) + " " + " ".join(chosen)
                assert check_answer(answer, grounds) == [], answer
                assert readability_problems(answer, evidence) == [], answer
                checked += 1
    assert checked >= 4 * 4


def test_llama_cpp_parses_the_grammar_with_quotes_and_backslashes_in_kb_text(evidences):
    from llama_cpp import LlamaGrammar

    evidence = evidences[0]
    text = 'Looks like a "drop" \\ down\nsecond line'
    passages = [passage.model_copy(update={"text": text}) for passage in evidence.kb_passages]
    grammar = answer_grammar(evidence, passages)
    assert "'drop' \\\\ down" in grammar and "second line" not in grammar  # one quoted line, escaped
    LlamaGrammar.from_string(grammar, verbose=False)  # raises on a malformed grammar
    assert grammar.startswith('root ::= " " ((f0 " " f1) | ')


def test_the_readability_check_rejects_what_the_unconstrained_model_wrote(evidences):
    known = next(e for e in evidences if not e.verdict.is_unknown)
    garbled = r"**Surf** [kb/golf_swing] = $69, \begin{CJK}{UTF8}{|c|b|} & \\ & \end{CJK} and the same for Swing[k][h]."
    assert any("markup debris" in problem for problem in readability_problems(garbled, known))
    unfinished = f"The clip shows **{known.verdict.label}** (90% confidence). It drops"
    assert readability_problems(unfinished, known) == ["the last sentence does not end"]
