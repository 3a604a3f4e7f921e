"""The Live tab: the browser's webcam or a stream URL, the current activity, the rolling timeline, and chat.

The webcam streams frames to the server through Gradio's streaming image input (no WebRTC
server or STUN needed, so it works offline); a URL is read on the server like ``assistant
watch``. Either feeds one ``LiveEngine`` per browser session; a timer redraws the current
activity, the timeline chart and its table every second. Questions are answered from the live
timeline and its evidence with the same writers and grounding check as clip answers, and any
finished segment can be written out as a clip and asked about like an upload.
"""

import html
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import gradio as gr
import numpy as np

from assistant.answering.chain import Replacement
from assistant.live.engine import LiveEngine
from assistant.live.live_evidence import answer_live
from assistant.live.live_timeline import Gap, LiveSegment
from assistant.live.segment_actions import write_segment
from assistant.live.watch_session import live_engine
from assistant.service import DEFAULT_QUESTION, Assistant
from assistant.ui.messages import unexpected
from assistant.ui.playable import playable_preview
from core.errors import AssistantError

log = logging.getLogger(__name__)
WEBCAM = "browser webcam"
CHART_SPAN_S = 120.0  # the chart shows the last two minutes
IDLE_STOP_S = 30.0  # a webcam that sent nothing for this long has been closed
STREAM_EVERY_S = 0.1  # frames a second the browser sends: 10
TABLE_HEADERS = ["from", "to", "activity", "confidence", "seconds"]
PALETTE = ["#4f46e5", "#059669", "#d97706", "#db2777", "#0891b2", "#65a30d", "#7c3aed", "#dc2626", "#0d9488"]
UNKNOWN_COLOUR = "#9ca3af"
NO_WATCH = "Start the webcam (press its record button) or enter a stream URL and press **Watch**."


def colours(segments: list[LiveSegment]) -> dict[str | None, str]:
    """One colour per activity, in order of first appearance: distinct for up to nine activities
    (a hash of the name would give two of them the same colour), grey for unknown."""
    labels = dict.fromkeys(s.label for s in segments if s.label is not None)
    return {None: UNKNOWN_COLOUR} | {label: PALETTE[n % len(PALETTE)] for n, label in enumerate(labels)}


def _clock(engine: LiveEngine, seconds: float) -> str:
    return datetime.fromtimestamp(engine.timeline.wall(seconds)).strftime("%H:%M:%S")


def timeline_chart(engine: LiveEngine, segments: list[LiveSegment], gaps: list[Gap]) -> str:
    """The last ``CHART_SPAN_S`` as a horizontal bar: one coloured block per segment, hatched gaps."""
    now = engine.now_s()
    since = max(0.0, now - CHART_SPAN_S)
    span = max(now - since, 1e-6)
    palette = colours(segments)
    blocks = []
    for item in [*segments, *gaps]:
        start, end = max(item.start_s, since), min(item.end_s, now)
        if end <= start:
            continue
        left, width = 100 * (start - since) / span, 100 * (end - start) / span
        if isinstance(item, Gap):
            title, style, text = (
                "no video (stream lost)",
                "background:repeating-linear-gradient(45deg,#eee 0 4px,#ccc 4px 8px)",
                "",
            )
        else:
            title = f"{item.name} {item.confidence:.0%} ({_clock(engine, item.start_s)}-{_clock(engine, item.end_s)})"
            style, text = f"background:{palette[item.label]}", html.escape(item.name) if width > 8 else ""
        blocks.append(
            f'<div class="live-block" title="{html.escape(title)}" style="position:absolute;left:{left:.2f}%;'
            f"width:{width:.2f}%;top:0;bottom:0;{style};color:white;font-size:12px;overflow:hidden;"
            f'white-space:nowrap;padding:4px 3px;box-sizing:border-box">{text}</div>'
        )
    axis = (
        f'<div style="display:flex;justify-content:space-between;font-size:11px;opacity:.7">'
        f"<span>{_clock(engine, since)}</span><span>now {_clock(engine, now)}</span></div>"
    )
    return (
        f'<div id="live-chart" data-segments="{len(segments)}"><div style="position:relative;height:34px;'
        f'background:#f3f4f6;border-radius:4px;overflow:hidden">{"".join(blocks)}</div>{axis}</div>'
    )


def now_markdown(engine: LiveEngine | None, source: str | None) -> str:
    if engine is None:
        return NO_WATCH
    current = engine.timeline.current()
    stats = engine.stats
    if current is None:
        return f"### Watching {html.escape(source or '')}…\nThe first window is being filled ({stats.frames} frames)."
    lead = f"### Now: {current.name} ({current.confidence:.0%})" if current.label else "### Now: unknown activity"
    return (
        f"{lead}\nsince {_clock(engine, current.start_s)} · {stats.windows} windows · "
        f"{stats.fps:.0f} fps in · {stats.skipped} frames skipped"
    )


def table_rows(engine: LiveEngine, segments: list[LiveSegment]) -> list[list]:
    return [
        [_clock(engine, s.start_s), _clock(engine, s.end_s), s.name, f"{s.confidence:.0%}", round(s.duration_s, 1)]
        for s in reversed(segments)
    ]


def segment_choice(engine: LiveEngine, index: int, segment: LiveSegment) -> tuple[str, int]:
    return f"{_clock(engine, segment.start_s)} {segment.name} ({segment.duration_s:.0f} s)", index


def _stop_in_background(engine: LiveEngine) -> None:
    """A stream read can block for its read timeout; the page must not wait for it."""
    threading.Thread(target=engine.stop, name="live-stop", daemon=True).start()


@dataclass
class LiveSession:
    engine: LiveEngine
    source: str
    last_frame: float = 0.0  # when the webcam last sent a frame (engine clock)
    last_seen: float = 0.0  # when the page last asked for a redraw (engine clock)


class LiveTab:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    # -- sessions -------------------------------------------------------------------------------
    def _session(self, request: gr.Request | None) -> LiveSession | None:
        key = request.session_hash if request is not None else None
        return self.sessions.get(key or "")

    def _replace(self, request: gr.Request | None, session: LiveSession | None) -> None:
        key = (request.session_hash if request is not None else None) or ""
        with self._lock:
            old = self.sessions.pop(key, None)
            if session is not None:
                self.sessions[key] = session
        if old is not None:
            _stop_in_background(old.engine)

    def _stop_abandoned(self) -> None:
        """A page closed without **Stop** no longer redraws: its watch (a URL read on the server) is ended."""
        with self._lock:
            gone = [key for key, s in self.sessions.items() if s.engine.clock() - s.last_seen > IDLE_STOP_S]
            stopped = [self.sessions.pop(key) for key in gone]
        for session in stopped:
            _stop_in_background(session.engine)

    # -- handlers -------------------------------------------------------------------------------
    def webcam_frame(self, image: np.ndarray | None, request: gr.Request) -> None:
        """One frame from the browser (RGB); the first one starts this session's engine."""
        if image is None:
            return
        session = self._session(request)
        if session is None or session.source != WEBCAM or session.engine.done.is_set():
            engine = live_engine(self.assistant).start()
            session = LiveSession(engine, WEBCAM, last_seen=engine.clock())
            self._replace(request, session)
        session.last_frame = session.engine.clock()
        session.engine.push(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))

    def watch_url(self, url: str, request: gr.Request) -> str:
        url = (url or "").strip()
        if not url:
            gr.Warning("Enter a stream URL (rtsp://, http://…/live.ts, .m3u8) first.")
            return NO_WATCH
        try:
            engine = live_engine(self.assistant, url).start()
        except AssistantError as error:
            gr.Warning(str(error))
            return f"⚠️ {error}"
        self._replace(request, LiveSession(engine, url, last_seen=engine.clock()))
        return now_markdown(engine, url)

    def stop(self, request: gr.Request) -> str:
        self._replace(request, None)
        return NO_WATCH

    def refresh(self, request: gr.Request) -> tuple:
        """What the timer redraws: current activity, chart, table, the segments that can be opened."""
        self._stop_abandoned()
        session = self._session(request)
        if session is None:
            return NO_WATCH, "", [], gr.update(choices=[])
        engine = session.engine
        session.last_seen = engine.clock()
        if session.source == WEBCAM and engine.clock() - session.last_frame > IDLE_STOP_S:
            self._replace(request, None)
        segments, gaps = engine.timeline.snapshot()
        choices = [segment_choice(engine, n, s) for n, s in enumerate(segments)][::-1]
        return (
            now_markdown(engine, session.source),
            timeline_chart(engine, segments, gaps),
            table_rows(engine, segments),
            gr.update(choices=choices),
        )

    def _answer(self, chunks: Iterator[str], question: str, history: list) -> Iterator[list]:
        chat = [*history, {"role": "user", "content": question}, {"role": "assistant", "content": ""}]
        text = ""
        try:
            for chunk in chunks:
                text = chunk.lstrip() if isinstance(chunk, Replacement) else text + chunk
                chat[-1] = {"role": "assistant", "content": text}
                yield chat
        except AssistantError as error:
            gr.Warning(str(error))
            chat[-1] = {"role": "assistant", "content": f"{text}\n\n⚠️ {error}".strip()}
        except Exception as error:  # a bug: logged, shown as a readable line
            chat[-1] = {"role": "assistant", "content": f"{text}\n\n⚠️ {unexpected(error, 'answering')}".strip()}
        yield chat

    def ask(self, question: str, history: list | None, request: gr.Request) -> Iterator[tuple]:
        """Answer from the live timeline of this session's watch."""
        question = (question or "").strip() or "What happened in the last minute?"
        history = list(history or [])
        session = self._session(request)
        if session is None:
            yield (
                [*history, {"role": "user", "content": question}, {"role": "assistant", "content": f"⚠️ {NO_WATCH}"}],
                "",
            )
            return
        chunks = answer_live(self.assistant, session.engine, session.source, question, history)
        for chat in self._answer(chunks, question, history):
            yield chat, ""

    def open_segment(self, choice: int | None, question: str, history: list | None, request: gr.Request):
        """Write the chosen segment out as a clip, analyse it like an upload and answer about it."""
        history = list(history or [])
        session = self._session(request)
        segments = session.engine.timeline.snapshot()[0] if session is not None else []
        if session is None or choice is None or not 0 <= int(choice) < len(segments):
            gr.Warning("Choose a segment of the timeline first.")
            yield history, None, gr.skip()
            return
        segment = segments[int(choice)]
        folder = self.assistant.settings.data_dir / "live" / (request.session_hash or "session")
        written = write_segment(session.engine, segment, folder)
        if not written.get("clip"):
            gr.Warning("That segment is older than the video the watch keeps (the last minute).")
            yield history, None, gr.skip()
            return
        clip = Path(written["clip"])
        question = (question or "").strip() or DEFAULT_QUESTION
        asked = f"{question} (the {segment.name} segment from {_clock(session.engine, segment.start_s)})"
        preview = str(playable_preview(str(clip)))
        try:
            evidence = self.assistant.analyse(clip)
        except AssistantError as error:
            gr.Warning(str(error))
            yield (
                [*history, {"role": "user", "content": asked}, {"role": "assistant", "content": f"⚠️ {error}"}],
                preview,
                "",
            )
            return
        for chat in self._answer(self.assistant.answer_stream(question, evidence, []), asked, history):
            yield chat, preview, ""

    # -- layout ---------------------------------------------------------------------------------
    def render(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                camera = gr.Image(
                    sources=["webcam"], streaming=True, type="numpy", label="Webcam", height=300, elem_id="live-cam"
                )
                with gr.Row():
                    url = gr.Textbox(
                        placeholder="or a stream: rtsp://camera/stream, http://host/live.ts, https://…/index.m3u8",
                        label="Stream URL",
                        show_label=False,
                        scale=5,
                        elem_id="live-url",
                    )
                    watch = gr.Button("Watch", variant="primary", scale=1, elem_id="live-watch")
                    stop = gr.Button("Stop", scale=1, elem_id="live-stop")
                now = gr.Markdown(NO_WATCH, label="Now", elem_id="live-now")
                chart = gr.HTML(label="Timeline (last 2 minutes)", elem_id="live-timeline")
                table = gr.Dataframe(headers=TABLE_HEADERS, label="Segments, newest first", interactive=False)
                with gr.Row():
                    segment = gr.Dropdown(label="Segment", choices=[], type="value", scale=4, elem_id="live-segment")
                    open_button = gr.Button("Ask about this segment", scale=2, elem_id="live-open")
                clip = gr.Video(label="Segment clip", height=220, elem_id="live-clip")
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(
                    label="Chat about the stream",
                    height=560,
                    placeholder="Ask what happened in the last minute, when an activity started, how long it lasted.",
                    elem_id="live-chat",
                )
                with gr.Row():
                    question = gr.Textbox(
                        value="What happened in the last minute?",
                        label="Question",
                        show_label=False,
                        scale=5,
                        elem_id="live-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="live-ask")
        timer = gr.Timer(1.0)
        camera.stream(
            self.webcam_frame, camera, None, stream_every=STREAM_EVERY_S, time_limit=None, api_visibility="private"
        )
        watch.click(self.watch_url, url, now, api_name="live_watch")
        stop.click(self.stop, None, now, api_name="live_stop")
        timer.tick(self.refresh, None, [now, chart, table, segment], api_visibility="private", show_progress="hidden")
        gr.on([ask.click, question.submit], self.ask, [question, chatbot], [chatbot, question], api_name="live_ask")
        open_button.click(
            self.open_segment, [segment, question, chatbot], [chatbot, clip, question], api_name="live_open_segment"
        )
