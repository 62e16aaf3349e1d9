"""A camera source: a decode thread feeding a small bounded queue, with reconnects and stall detection.

Files are read as fast as the consumer takes frames (the queue blocks, nothing is dropped) unless
`realtime` paces them to their own fps. Live sources (RTSP, HTTP, USB) never block the decoder: when the
queue is full the oldest frame is dropped and counted. A live source that delivers no frame for
`stall_timeout_s` is reported `stalled`; when its reader gives up (FFmpeg read timeout, end of stream,
error) it reconnects with exponential backoff (`reconnecting` → `live`). No frame is ever invented.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.sampler import Sampler
from edge.sources.captures import Capture
from edge.sources.frame import Frame, SourceError, SourceState
from edge.sources.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOptions:
    realtime: bool = False  # files only: pace to the file's fps
    loop: bool = False  # files only: start again at the end, stream time running on (demos, soak tests)
    queue_size: int = 4
    stall_timeout_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_reconnects: int | None = None  # None: keep trying forever
    open_timeout_s: float = 10.0


class Source:
    """`kind`: file | rtsp | http | usb | images | drone. `open_capture` builds a fresh Capture (raising
    SourceError); it is called again on every reconnect of a live source."""

    def __init__(
        self,
        camera_id: str,
        spec: str,
        kind: str,
        open_capture: Callable[[], Capture],
        *,
        live: bool,
        sampler: Sampler | None = None,
        options: SourceOptions | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.camera_id, self.spec, self.kind = camera_id, spec, kind
        self.live = live
        self.sampler = sampler or Sampler()
        self.options = options or SourceOptions()
        self.telemetry = telemetry
        self._open_capture = open_capture
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=self.options.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cap: Capture | None = None
        self._lock = threading.Lock()
        self._state = SourceState.CONNECTING
        self.history: list[tuple[float, SourceState, str]] = [(time.monotonic(), self._state, "")]
        self.detail = ""
        self.decoded = 0
        self.dropped = 0
        self.retrieve_errors = 0
        self.reconnects = 0
        self.fps = 0.0
        self.frame_count = 0
        self._last_frame_mono = time.monotonic()
        # Live timestamps are monotonic; this offset turns them into unix seconds for messages.
        self._mono_to_unix = time.time() - time.monotonic()
        self.started_unix = time.time()
        self.frame_ready: threading.Event | None = None  # set after every queued frame (the consumer waits)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Source:
        """Open the source once in the caller's thread (so a bad file fails here, with SourceError), then
        start decoding. A live source that cannot be reached yet keeps retrying in the background."""
        try:
            self._cap = self._open_capture()
            self._on_opened()
        except SourceError:
            if not self.live:
                self._set_state(SourceState.FAILED, "cannot open")
                raise
            self._set_state(SourceState.RECONNECTING, "first connection failed")
        self.started_unix = time.time()
        self._thread = threading.Thread(target=self._run, name=f"source-{self.camera_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop decoding. A reader blocked in a stalled stream's read is left to time out on its own and
        releases its capture itself (releasing it from here, mid-read, is not safe in FFmpeg)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    # ------------------------------------------------------------------ consumer side
    def read(self, timeout: float | None = None) -> Frame | None:
        """The next sampled frame, or None if none arrived within `timeout` (None: don't wait)."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def state(self) -> SourceState:
        """Current state; a live source without frames for `stall_timeout_s` reads as `stalled`."""
        with self._lock:
            state = self._state
            if (
                state is SourceState.LIVE
                and self.live
                and time.monotonic() - self._last_frame_mono > self.options.stall_timeout_s
            ):
                self._set_state_locked(
                    SourceState.STALLED, f"no frame for {self.options.stall_timeout_s:g} s"
                )
                state = SourceState.STALLED
            return state

    @property
    def finished(self) -> bool:
        """True when the source will produce nothing more and its queue is drained."""
        return self.state in (SourceState.ENDED, SourceState.FAILED) and self._queue.empty()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def to_unix(self, ts: float) -> float:
        """Unix seconds of a frame's stream time: arrival time for live sources, start + offset for files."""
        return ts + self._mono_to_unix if self.live else self.started_unix + ts

    def stats(self) -> dict:
        return {
            "camera_id": self.camera_id,
            "kind": self.kind,
            "state": self.state.value,
            "detail": self.detail,
            "decoded": self.decoded,
            "sampled": self.sampler.kept,
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "queued": self.pending,
        }

    # ------------------------------------------------------------------ decode thread
    def _set_state(self, state: SourceState, detail: str = "") -> None:
        with self._lock:
            self._set_state_locked(state, detail)

    def _set_state_locked(self, state: SourceState, detail: str) -> None:
        if state is not self._state or detail != self.detail:
            if state is not self._state:
                log.info("camera %s: %s -> %s %s", self.camera_id, self._state.value, state.value, detail)
                self.history.append((time.monotonic(), state, detail))
            self._state, self.detail = state, detail
            if self.frame_ready is not None:
                self.frame_ready.set()  # wake the consumer: it reports states, and stops at the end

    def _on_opened(self) -> None:
        assert self._cap is not None
        self.fps = self._cap.fps or self.fps
        self.frame_count = self._cap.frame_count or self.frame_count
        with self._lock:
            self._last_frame_mono = time.monotonic()
        self._set_state(SourceState.LIVE)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 -- a decoder crash is a failed source, not a dead worker
            log.exception("camera %s: reader failed", self.camera_id)
            self._set_state(SourceState.FAILED, f"reader error: {exc}"[:200])
        finally:
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    def _loop(self) -> None:
        backoff = self.options.backoff_initial_s
        attempts = 0
        last_ts: float | None = None
        pace_start: float | None = None
        offset = 0.0  # stream time added to the file position after each loop
        while not self._stop.is_set():
            if self._cap is None:
                if not self.live or (
                    self.options.max_reconnects is not None and attempts >= self.options.max_reconnects
                ):
                    self._set_state(SourceState.FAILED, f"gave up after {attempts} reconnect attempts")
                    return
                if self._stop.wait(backoff):
                    return
                attempts += 1
                self.reconnects += 1
                backoff = min(backoff * 2, self.options.backoff_max_s)
                try:
                    self._cap = self._open_capture()
                except SourceError as exc:
                    self._set_state(SourceState.RECONNECTING, f"attempt {attempts}: {exc}")
                    continue
                self._on_opened()
            cap = self._cap
            if not cap.grab():
                if self.live:
                    self.state  # noqa: B018 -- records `stalled` first if the wait was a stall
                    cap.release()
                    self._cap = None
                    self._set_state(SourceState.RECONNECTING, "stream ended or read timed out")
                    continue
                if self.options.loop and last_ts is not None:
                    cap.release()
                    offset = last_ts + (1.0 / self.fps if self.fps else 0.04)
                    try:
                        self._cap = self._open_capture()
                    except SourceError as exc:
                        self._cap = None
                        self._set_state(SourceState.FAILED, f"cannot reopen to loop: {exc}")
                        return
                    continue
                self._finish_file()
                return
            now = time.monotonic()
            with self._lock:
                self._last_frame_mono = now
                if self._state is not SourceState.LIVE:
                    self._set_state_locked(SourceState.LIVE, "")
            attempts, backoff = 0, self.options.backoff_initial_s
            self.decoded += 1
            if self.live:
                ts = now
            else:
                ts = self._file_ts(cap, last_ts, offset)
                if self.options.realtime:
                    if pace_start is None:
                        pace_start = now - ts
                    delay = pace_start + ts - now
                    if delay > 0 and self._stop.wait(delay):
                        return
            last_ts = ts
            if not self.sampler.want(ts):
                continue
            image = cap.retrieve()
            if image is None:
                self.retrieve_errors += 1
                continue
            geo, telemetry = None, {}
            if self.telemetry is not None:
                geo, heading = self.telemetry.at(ts - offset)
                telemetry = {"heading": heading, "pose": self.telemetry.pose_at(ts - offset)}
            self._put(Frame(self.camera_id, self.decoded - 1, ts, image, geo, telemetry))

    def _file_ts(self, cap: Capture, last_ts: float | None, offset: float) -> float:
        """CAP_PROP_POS_MSEC, kept strictly increasing; falls back to index / fps when it is missing."""
        pos = cap.position_s()
        pos = None if pos is None else pos + offset
        step = 1.0 / self.fps if self.fps else 0.04
        if pos is None or (last_ts is not None and pos <= last_ts):
            return 0.0 if last_ts is None else last_ts + step
        return pos

    def _put(self, frame: Frame) -> None:
        self._enqueue(frame)
        if self.frame_ready is not None:
            self.frame_ready.set()

    def _enqueue(self, frame: Frame) -> None:
        if self.live or self.options.realtime:
            while True:
                try:
                    self._queue.put_nowait(frame)
                    return
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass
        while not self._stop.is_set():
            try:
                self._queue.put(frame, timeout=0.2)
                return
            except queue.Full:
                continue

    def _finish_file(self) -> None:
        expected = self.frame_count
        if expected and self.decoded < 0.9 * expected:
            detail = f"ended after {self.decoded} of {expected} frames: the file looks truncated or corrupt"
            log.warning("camera %s: %s", self.camera_id, detail)
        else:
            detail = f"{self.decoded} frames"
        self._set_state(SourceState.ENDED, detail)
        if self._cap is not None:
            self._cap.release()
            self._cap = None
