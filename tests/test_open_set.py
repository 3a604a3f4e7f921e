"""Open-set recognition that holds on new recordings (issue 20).

The library here is what a user's own folder often is: recordings cut into clips with no group
names, so a random split makes every validation clip a near-copy of a training clip. Calibration
must say so and take the "unknown" floor from recordings left out, not from those near-copies:
new recordings of known activities (other backgrounds, crops, compression) are then named, and
an activity the library does not hold is not. Also: "none of these" examples, a library started
from a single example clip, and setup from one clip per activity.
"""

import dataclasses
import shutil

import numpy as np
import pytest

from assistant.analysis.gather import gather_evidence
from assistant.fusion import DEFAULT_FUSION, decide, fuse
from assistant.jobs.calibrate import calibrate
from assistant.jobs.example_clips import add_example_clips
from assistant.jobs.setup_pipeline import SetupOptions, run_setup
from assistant.runtime.calibration import with_open_set_floors
from assistant.runtime.open_set import (
    OpenSetCalibration,
    applied_floor,
    calibrate_open_set,
    conformal_bound,
    conformal_upper,
    weak_floor_note,
)
from assistant.runtime.resources import Resources
from core.labels import NEGATIVE_LABEL
from core.settings import Settings
from indexing.__main__ import main as indexing_main
from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import search_clip
from indexing.frames.frame_index import FrameIndex
from indexing.frames.index_builder import build_frame_index
from testkit.retrieval_data import (
    SHAPES,
    TEST_ENCODER,
    shape_frames,
    shifted_recording,
    shifted_recording_bgr,
    unseen_activity,
    unseen_activity_bgr,
)
from testkit.synthetic import write_opencv
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source

FRAMES = 4
RECORDINGS = 4  # per activity
PARTS = 3  # near-copy clips cut from each recording
PROBES = 6  # new recordings per activity, and clips of the unseen activity


def _near_copy(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another cut of the same recording: the same scene, shifted a pixel or two, with fresh noise."""
    shifted = np.roll(frames, tuple(rng.integers(-2, 3, 2)), axis=(1, 2)).astype(np.int16)
    return np.clip(shifted + rng.normal(0, 3, frames.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def near_copy_library(tmp_path_factory):
    root = tmp_path_factory.mktemp("near-copies")
    rng = np.random.default_rng(11)
    for label in SHAPES:
        (root / "videos" / label).mkdir(parents=True)
        for recording in range(RECORDINGS):
            frames = shape_frames(label, rng)
            for part in range(PARTS):  # no gNN in the names: every clip is its own group to the splitter
                write_opencv(root / "videos" / label / f"rec{recording}_part{part}.avi", _near_copy(frames, rng))
    clips = load_source(root / "videos", "folder", val_fraction=0.3, test_fraction=0.0, seed=0)
    prepared = root / "prepared"
    prepare_dataset(clips, prepared, PrepareConfig(num_frames=FRAMES, size=64, num_clips=1), workers=1)
    settings = Settings(data_dir=root / "var", kb_dir=root / "no-kb", llm_provider="offline")
    build_frame_index(prepared, settings.index_dir, get_encoder(TEST_ENCODER), frames_per_clip=FRAMES)
    resources = Resources.load(settings)
    return calibrate(prepared, resources, split="val"), resources


def _verdict(resources: Resources, fusion, frames: np.ndarray):
    result = search_clip(resources.index, resources.encoder, frames, k=10)
    support = resources.segments.support(resources.encoder.encode(frames))  # what an answer's decision reads
    return decide(fuse(None, result.vote, fusion.classifier_weight), support, fusion)


def test_calibration_says_validation_is_near_copies_and_does_not_take_its_floor_from_them(near_copy_library):
    result, resources = near_copy_library
    assert result.near_copies is not None and result.near_copies >= 0.8
    assert "near-copy in the library" in result.table() and "memory" in result.table()
    fusion = result.fusion
    assert fusion.open_set_floor is not None and "left out" in fusion.open_set
    # The floor sits at what other activities reach, far below the near-copies' own score (~1.4).
    assert fusion.open_set_floor < 1.2
    assert resources.fusion.open_set_floor == fusion.open_set_floor  # every snapshot measures the same floor


def test_new_recordings_are_named_right_or_called_unknown_and_an_unseen_activity_is_never_named(near_copy_library):
    """Right or honestly unsure: recordings filmed elsewhere (tinted backgrounds, crops, JPEG 30) are never
    given another activity's name; those of activities unlike the rest are named; the look-alike pair
    (a green square and a yellow bar to this encoder) may be called unknown under so strong a shift."""
    result, resources = near_copy_library
    rng = np.random.default_rng(3)
    said = {
        label: [_verdict(resources, result.fusion, shifted_recording(label, rng, FRAMES)).label for _ in range(PROBES)]
        for label in SHAPES
    }
    assert all(name in (label, None) for label, names in said.items() for name in names), said
    distinct = [name == label for label in ("RedDisc", "BlueTriangle") for name in said[label]]
    assert np.mean(distinct) >= 0.8, said
    unseen = [_verdict(resources, result.fusion, unseen_activity(rng, FRAMES)) for _ in range(PROBES)]
    assert all(v.is_unknown for v in unseen), [v.reason for v in unseen]


def test_the_normalised_floor_is_the_conformal_upper_quantile():
    impostors = [0.1 * n for n in range(1, 20)]  # 19 values: rank ceil(0.9 * 20) = 18
    assert conformal_upper(impostors, 0.1) == pytest.approx(1.8)
    assert conformal_upper(impostors[:5], 0.1) == pytest.approx(0.5)  # few values: their maximum
    assert conformal_upper([], 0.1) is None


def test_examples_of_none_of_these_make_their_lookalikes_unknown(near_copy_library, tmp_path):
    _, resources = near_copy_library
    settings = resources.settings.model_copy(update={"data_dir": tmp_path / "var"})
    shutil.copytree(resources.settings.index_dir, settings.index_dir)
    rng = np.random.default_rng(8)
    negatives = [write_opencv(tmp_path / f"ring{n}.avi", unseen_activity_bgr(rng)) for n in range(3)]
    assert len(add_example_clips(settings, negatives, None, negative=True)) == 3
    with_negatives = Resources.load(settings)
    assert NEGATIVE_LABEL in with_negatives.index.classes()
    ring = gather_evidence(write_opencv(tmp_path / "query.avi", unseen_activity_bgr(rng)), with_negatives, settings)
    assert ring.verdict.is_unknown and "other activities" in ring.verdict.reason
    known = gather_evidence(
        write_opencv(tmp_path / "known.avi", shifted_recording_bgr("RedDisc", rng)), with_negatives, settings
    )
    assert known.verdict.label == "RedDisc"
    assert {s.label for s in known.retrieval.support} >= {"RedDisc", NEGATIVE_LABEL}


def test_the_first_example_clips_start_a_library(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path / "var", kb_dir=tmp_path / "no-kb", llm_provider="offline")
    rng = np.random.default_rng(4)
    disc = write_opencv(tmp_path / "disc.avi", shape_frames("RedDisc", rng))
    square = write_opencv(tmp_path / "square.avi", shape_frames("GreenSquare", rng))
    assert not settings.index_dir.exists()
    [disc_id] = add_example_clips(settings, [disc], "RedDisc")
    add_example_clips(settings, [square], "GreenSquare")
    ring = write_opencv(tmp_path / "ring.avi", unseen_activity_bgr(rng))
    assert indexing_main(["add", "--negative", str(ring), "--data-dir", str(settings.data_dir)]) == 0
    assert "as '_other'" in capsys.readouterr().out
    index = FrameIndex.load(settings.index_dir)
    assert index.classes() == sorted(["RedDisc", "GreenSquare", NEGATIVE_LABEL]) and disc_id in index.clip_ids()
    encoder_size = get_encoder(index.encoder_spec["name"]).image_size
    assert index.sampling.size == encoder_size  # decoded at what the encoder reads, not shrunk and scaled up
    floor = calibrate_open_set(index)
    assert floor.floor is not None and floor.recordings == 3
    # one impostor score (the ring asked of the two shapes): the answer's notes say how weak "unknown" is
    assert floor.false_accept_bound == pytest.approx(0.5)
    loaded = Resources.load(settings)
    assert [n for n in loaded.static_notes if "at most 50% of clips" in n]
    assert loaded.fusion.open_set_impostors == floor.impostor and len(floor.impostor) == 1  # named verdicts count them


def test_setup_from_one_clip_per_activity_builds_a_few_shot_assistant(tmp_path):
    rng = np.random.default_rng(6)
    source = tmp_path / "clips"
    for label in SHAPES:
        (source / label).mkdir(parents=True)
        write_opencv(source / label / "only.avi", shape_frames(label, rng))
    (source / "_other").mkdir()
    write_opencv(source / "_other" / "ring.avi", unseen_activity_bgr(rng))
    (tmp_path / "kb").mkdir()  # setup syncs the KB: an empty one here
    settings = Settings(data_dir=tmp_path / "var", kb_dir=tmp_path / "kb", llm_provider="offline")
    options = SetupOptions(num_frames=FRAMES, encoder=TEST_ENCODER, frames_per_clip=FRAMES, workers=1)
    report = run_setup(source, settings, options)
    assert report.few_shot is not None and "too few" in report.few_shot and report.checkpoint is None
    lines = report.summary().splitlines()
    assert lines[1].startswith("few-shot mode") and not any(line.startswith("trained ") for line in lines)
    assert report.indexed_clips == len(SHAPES) + 1  # every clip is an example, the negative one too
    resources = Resources.load(settings)
    assert resources.classifier is None and resources.index.classes() == sorted([*SHAPES, NEGATIVE_LABEL])
    new_disc = gather_evidence(write_opencv(tmp_path / "disc.avi", shape_frames("RedDisc", rng)), resources, settings)
    assert new_disc.fused[0].label == "RedDisc"
    ring = gather_evidence(write_opencv(tmp_path / "ring.avi", unseen_activity_bgr(rng)), resources, settings)
    assert ring.verdict.is_unknown


def test_a_floor_that_would_reject_most_known_recordings_is_not_applied():
    """Frames that cannot tell the activities apart (they differ by motion) leave the decision to the classifier."""
    separable = OpenSetCalibration(
        floor=0.6, known=(0.8, 0.9, 0.55), impostor=(0.5, 0.6), recordings=5, false_accept=0.1
    )
    assert applied_floor(separable) == 0.6 and separable.known_rejected == pytest.approx(1 / 3)
    blind = OpenSetCalibration(floor=0.6, known=(0.5, 0.55, 0.62), impostor=(0.5, 0.6), recordings=5, false_accept=0.1)
    assert applied_floor(blind) is None and "not applied" in blind.describe()
    few_shot = OpenSetCalibration(floor=0.6, known=(), impostor=(0.5, 0.6), recordings=2, false_accept=0.1)
    assert applied_floor(few_shot) == 0.6  # nothing else to judge by


def test_a_floor_from_few_impostors_states_the_weaker_guarantee_it_has():
    """The conformal floor of n impostor scores is their maximum when n < 9: a clip of another activity passes
    it with probability up to 1 / (n + 1), and the answer must not claim the 10 % it aimed at."""
    assert [conformal_bound(n, 0.1) for n in (0, 1, 4, 9, 19)] == pytest.approx([1.0, 0.5, 0.2, 0.1, 0.1])
    assert conformal_bound(10, 0.1) <= 0.1  # enough scores: the quantile below the maximum keeps the promise
    few = OpenSetCalibration(floor=0.6, known=(), impostor=(0.3, 0.4, 0.5, 0.6), recordings=4, false_accept=0.1)
    assert few.false_accept_bound == pytest.approx(0.2)
    assert "at most 20% of clips" in few.describe() and "not 10%: only 4 recordings" in few.describe()
    many = dataclasses.replace(few, impostor=tuple(0.05 * n for n in range(19)))
    assert "at most 10% of clips" in many.describe() and "not 10%" not in many.describe()


def test_the_answer_notes_a_missing_or_weak_floor_and_nothing_when_the_floor_keeps_its_promise():
    weak = OpenSetCalibration(floor=0.6, known=(), impostor=(0.3, 0.4, 0.5), recordings=3, false_accept=0.1)
    assert "at most 25% of clips" in weak_floor_note(weak) and "--negative" in weak_floor_note(weak)
    none = dataclasses.replace(weak, floor=None, impostor=())
    assert "too few activities" in weak_floor_note(none)
    assert weak_floor_note(dataclasses.replace(weak, impostor=tuple(0.02 * n for n in range(30)))) is None
    not_applied = dataclasses.replace(weak, known=(0.1, 0.2, 0.3))  # the classifier decides: nothing to add
    assert applied_floor(not_applied) is None and weak_floor_note(not_applied) is None
    assert with_open_set_floors(DEFAULT_FUSION, not_applied).open_set_impostors == ()  # no floor: nothing to count
    assert with_open_set_floors(DEFAULT_FUSION, weak).open_set_impostors == (0.3, 0.4, 0.5)
