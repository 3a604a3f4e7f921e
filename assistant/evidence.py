"""The evidence about one clip: everything an answer may rely on, as typed, JSON-ready data.

Every answer (Gemini, local model or the offline writer), the UI panels and the CLI's
``--json`` read this one object, so what the user is told and what they can inspect never
diverge. Each part is optional: a missing checkpoint or index leaves its part ``None`` and
adds an entry to ``missing`` that says how to build it.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MediaKind = Literal["video", "image"]


class LabelScore(BaseModel):
    label: str
    probability: float


class VideoSummary(BaseModel):
    fps: float
    frame_count: int
    duration_s: float
    width: int
    height: int


class ClassifierPart(BaseModel):
    """Top-k of the trained classifier; for long videos, averaged over the windows."""

    checkpoint_name: str
    checkpoint_path: str
    model: str
    top_k: list[LabelScore]


class NeighbourClip(BaseModel):
    """One recording that looks alike: its best clip, that clip's best frame and similarity.

    ``near_copies`` counts the other clips of the same source group (UCF101 group or video)
    collapsed into this one: they are shown, not counted again by the vote.
    """

    clip_id: str
    label: str
    score: float
    frame_time_s: float | None = None
    thumbnail: str | None = None
    source_path: str | None = None
    near_copies: int = 0


class RetrievalPart(BaseModel):
    neighbours: list[NeighbourClip]
    vote: list[LabelScore]
    encoder: str
    index_dir: str
    best_score: float | None  # similarity of the closest clip (``ClipSearchResult.best_score``)
    # Per activity, how well the clip's frames match its examples (``indexing.frames.clip_search.label_support``).
    support: list[LabelScore] = Field(default_factory=list)


class ZeroShotPart(BaseModel):
    """CLIP zero-shot scores over the KB's activities (``None`` when CLIP is off or not needed).

    ``only_labels`` are the activities with neither a trained class nor example clips: their
    place in the fused ranking comes from these scores alone.
    """

    model: str
    scores: list[LabelScore]
    only_labels: list[str] = Field(default_factory=list)


class FusionSettings(BaseModel):
    """How the parts were combined, so a reader can tell a calibrated verdict from a default."""

    model_config = ConfigDict(frozen=True)

    classifier_weight: float
    unknown_threshold: float
    # The open-set floor (``assistant.runtime.open_set``), measured on the library's own recordings:
    # the open-set score (support + lead) a clip's leading activity must reach.
    open_set_floor: float | None = None
    open_set: str | None = None  # how the floor was measured, in words
    # The scores the applied floor was measured from (recordings asked as another activity), so a named verdict
    # can say how many of them its own score reaches (a conformal p-value); recomputed at every load, not saved.
    open_set_impostors: tuple[float, ...] = Field(default=(), exclude=True, repr=False)
    calibrated: bool
    source: str | None = None
    # The frame index build the thresholds were measured on; a rebuilt index gets a note.
    index_build_id: str | None = None


class Verdict(BaseModel):
    label: str | None
    confidence: float
    is_unknown: bool
    reason: str


class Segment(BaseModel):
    start_s: float
    end_s: float
    label: str | None
    confidence: float


class KbPassage(BaseModel):
    file: str
    section: str
    label: str
    text: str
    score: float

    @property
    def citation(self) -> str:
        return f"[{self.file} § {self.section}]"


class MissingPart(BaseModel):
    name: str
    reason: str
    fix: str


class UsedArtifacts(BaseModel):
    checkpoint: str | None = None
    encoder: str | None = None
    index: str | None = None
    kb: str | None = None


class AnswerCheck(BaseModel):
    """The grounding check of the latest answer a language model wrote about this clip.

    Recorded on the evidence so the UI, the CLI's ``--json`` and a bug report show whether the
    user read the model's words or the offline answer, and why.
    """

    writer: str
    passed: bool
    problems: list[str] = Field(default_factory=list)


class KeyMoment(BaseModel):
    """A moment an explained decision leaned on: when, how much (peak = 1), and where in the frame."""

    time_s: float
    importance: float
    region: str


class ExplanationPart(BaseModel):
    """Where the classifier looked for one class (Grad-CAM), added only when a user asks why.

    ``probability`` is the class's mean over the explained windows; ``coverage`` the share of
    the pictures the heat covers (heat at least half its peak); ``curve`` is (time s, importance).
    """

    label: str
    probability: float
    model: str
    method: str
    peak_s: float
    moments: list[KeyMoment]
    coverage: float
    curve: list[tuple[float, float]]


class Evidence(BaseModel):
    source_path: str
    media_kind: MediaKind
    video: VideoSummary
    classifier: ClassifierPart | None = None
    retrieval: RetrievalPart | None = None
    zero_shot: ZeroShotPart | None = None
    fused: list[LabelScore] = Field(default_factory=list)
    fusion: FusionSettings | None = None
    verdict: Verdict
    timeline: list[Segment] = Field(default_factory=list)
    kb_passages: list[KbPassage] = Field(default_factory=list)
    missing: list[MissingPart] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # The classifier head and the frame search read one backbone pass (timing step "features").
    shared_backbone: bool = False
    used: UsedArtifacts = Field(default_factory=UsedArtifacts)
    answer_check: AnswerCheck | None = None
    explanations: list[ExplanationPart] = Field(default_factory=list)

    def explanation_for(self, label: str | None) -> ExplanationPart | None:
        """The latest explanation of ``label``, if a user asked for one."""
        return next((part for part in reversed(self.explanations) if part.label == label), None)

    @property
    def is_still(self) -> bool:
        return self.media_kind == "image"

    @property
    def candidate_labels(self) -> list[str]:
        """Fused labels best first: what the answer may name, and what KB passages are fetched for."""
        return [item.label for item in self.fused]


def default_label(evidence: Evidence | None, classes: list[str]) -> str | None:
    """What to explain when nobody said: the verdict when the classifier knows it, else its first choice."""
    if evidence is None:
        return None
    if evidence.verdict.label in classes:
        return evidence.verdict.label
    return evidence.classifier.top_k[0].label if evidence.classifier and evidence.classifier.top_k else None
