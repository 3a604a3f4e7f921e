"""The live engine's analyser: a window through the assistant's own window analysis.

Each window is analysed with the snapshot current at that moment (``Assistant.snapshot``), so a
checkpoint retrained or an index rebuilt during a long watch is picked up by the next window,
exactly as the next uploaded clip would pick it up.
"""

from collections.abc import Callable

from assistant.analysis.gather import analysis_frames, retrieval_part_of
from assistant.analysis.step_timer import StepTimer
from assistant.analysis.window_analysis import analyse_windows
from assistant.live.live_timeline import AnalysedWindow
from assistant.runtime.resources import Resources
from core.settings import Settings
from video.decoding import Clip


class ModelAnalyser:
    def __init__(self, snapshot: Callable[[], Resources], settings: Settings) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.notes: list[str] = []  # what the analysis said the user should know (once each)

    def frame_spec(self) -> tuple[int, int, bool]:
        """(frames per window, size, keep aspect): the frames the current models read."""
        return analysis_frames(self.snapshot(), self.settings)

    def __call__(self, window: Clip) -> AnalysedWindow:
        resources = self.snapshot()
        notes: list[str] = []
        analysis = analyse_windows(resources, [window], self.settings.neighbours_k, StepTimer(), notes)
        self.notes.extend(note for note in notes if note not in self.notes)
        neighbours = []
        if analysis.results is not None:
            neighbours = retrieval_part_of(
                resources, analysis.results, self.settings.neighbours_k, analysis.video_support
            ).neighbours
        return AnalysedWindow(window.start_s, window.end_s, analysis.verdicts[0], analysis.fused[0], neighbours)
