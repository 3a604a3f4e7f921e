"""Wall-clock milliseconds per step of answering, reported in the evidence and the benchmark."""

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StepTimer:
    """Accumulates per step name, so a step run once per window still reports one total."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round(self.ms.get(name, 0.0) + (time.perf_counter() - started) * 1000.0, 2)

    def total(self) -> dict[str, float]:
        """The steps plus their sum under ``total``."""
        return {**self.ms, "total": round(sum(self.ms.values()), 2)}
