"""A watch, put together: the assistant's analyser, the frame source and the engine between them."""

from assistant.analysis.gather import WINDOW_OVERLAP
from assistant.live.clip_memory import ClipMemory
from assistant.live.engine import LiveEngine
from assistant.live.model_analyser import ModelAnalyser
from assistant.live.source import DEFAULT_BACKOFF, Backoff, FrameSource, SourceSpec
from assistant.service import Assistant


def default_stride_s(window_s: float) -> float:
    """As a clip's windows (``gather.WINDOW_OVERLAP``): a live timeline matches the clip timeline of its recording."""
    return window_s * (1 - WINDOW_OVERLAP)


def live_engine(
    assistant: Assistant,
    source: str | None = None,
    *,
    stride_s: float | None = None,
    clip_memory_s: float = 60.0,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> LiveEngine:
    """An engine reading ``source`` (a webcam index, file or URL), or fed by ``push`` when None; not started.

    ``clip_memory_s``: how much recent video is kept to write segments out as clips (0: none).
    Raises VideoError when the source cannot be opened.
    """
    analyser = ModelAnalyser(assistant.snapshot, assistant.settings)
    window_s = assistant.settings.window_s
    frame_source = FrameSource(SourceSpec.parse(source), backoff=backoff) if source is not None else None
    return LiveEngine(
        analyser,
        analyser.frame_spec(),
        window_s=window_s,
        stride_s=stride_s or default_stride_s(window_s),
        source=frame_source,
        clip_memory=ClipMemory(clip_memory_s) if clip_memory_s > 0 else None,
    )
