"""From ``Evidence`` to words: the prompt, the LangChain chain and the answer writers (LLM backends)."""
