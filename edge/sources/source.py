"""A camera source: a decode thread feeding a small bounded queue, with reconnects and stall detection.

Files are read as fast as the consumer takes frames (the queue blocks, nothing is dropped) unless
`realtime` paces them to their own fps. Live sources (RTSP, HTTP, USB) never block the decoder: when the
queue is full the oldest frame is dropped and counted. A live source that delivers no frame for
`stall_timeout_s` is reported `stalled`; when its reader gives up (FFmpeg read timeout, end of stream,
error, or an exception from the reader itself) it reconnects with exponential backoff capped at
`backoff_max_s` (`reconnecting` → `live`), keeping count of its attempts and the last error for the status
message. No frame is ever invented. A file whose reader raises is `failed` (reading it again would fail again).

Times: stream seconds (`Frame.ts`) are monotonic arrival for live sources and the position in the file for
files; `to_unix()` turns them into unix seconds through `clock` (`edge.clock.WallClock`, which follows steps
of the system clock). Image folders are stamped with each image's file time (see `ImageFolderCapture`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.clock import SYSTEM_CLOCK, WallClock
from edge.failures import log_some
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
    history_size: int = 100  # state changes kept in `Source.history` (a flapping camera must not grow it forever)


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
        self.history: deque[tuple[float, SourceState, str]] = deque(
            [(time.monotonic(), self._state, "")], maxlen=max(2, self.options.history_size)
        )
        self.detail = ""
        self.decoded = 0
        self.dropped = 0
        self.retrieve_errors = 0
        self.reconnects = 0
        self.attempts = 0  # reconnect attempts since the last frame (0 while frames flow)
        self.reader_errors = 0  # exceptions raised by the reader (each one is a reconnect for a live source)
        self.last_error = ""
        self.fps = 0.0
        self.frame_count = 0
        self._last_frame_mono = time.monotonic()
        self._backoff = self.options.backoff_initial_s
        self.clock: WallClock = SYSTEM_CLOCK  # the pipeline hands every source its own clock
        self.started_mono = time.monotonic()
        self._capture_times: list[float] | None = None  # image folders: each image's file time
        self._capture_fps = 0.0
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
        self.started_mono = self.clock.monotonic()
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

    @property
    def started_unix(self) -> float:
        """Unix seconds of the start, on the clock's current offset (it moves when the system clock steps)."""
        return self.clock.to_unix(self.started_mono)

    def to_unix(self, ts: float) -> float:
        """Unix seconds of a frame's stream time: arrival time for live sources, the image's file time for an
        image folder with ordered file times, else start + position for files."""
        if self.live:
            return self.clock.to_unix(ts)
        times, fps = self._capture_times, self._capture_fps
        if times and fps > 0:
            i = max(0, round(ts * fps))
            n = len(times)
            lap = times[-1] - times[0] + 1.0 / fps  # a looped folder goes on after its last image
            return times[i % n] + (i // n) * lap + (ts - i / fps)
        return self.started_unix + ts

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
            "attempts": self.attempts,
            "reader_errors": self.reader_errors,
            "last_error": self.last_error,
            "queued": self.pending,
        }

    def describe(self) -> str:
        """One line for the status message: the state, and while reconnecting its attempts and last error."""
        state = self.state
        if state in (SourceState.RECONNECTING, SourceState.STALLED, SourceState.FAILED) or self.attempts:
            text = f"{state.value}, attempt {self.attempts}" if self.attempts else state.value
            why = self.last_error or self.detail
            return f"{text}: {why}" if why else text
        return state.value

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
        times = getattr(self._cap, "capture_times", None)
        if times:
            self._capture_times, self._capture_fps = list(times), float(self._cap.fps)
        with self._lock:
            self._last_frame_mono = time.monotonic()
        self._set_state(SourceState.LIVE)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._loop()
                    return
                except Exception as exc:  # noqa: BLE001 -- a decoder crash must not take the worker down
                    self.reader_errors += 1
                    self.last_error = f"reader error: {type(exc).__name__}: {exc}"[:200]
                    self._release()
                    if not self.live:  # a file that makes its reader raise would do it again
                        log.exception("camera %s: reader failed", self.camera_id)
                        self._set_state(SourceState.FAILED, self.last_error)
                        return
                    if self.reader_errors == 1:
                        log.exception("camera %s: reader failed; reconnecting", self.camera_id)
                    else:
                        log_some(log, self.reader_errors, "camera %s: reader failed again (%d so far); reconnecting: "
                                 "%s", self.camera_id, self.reader_errors, self.last_error)
                    self._set_state(SourceState.RECONNECTING, self.last_error)
        finally:
            self._release()

    def _release(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except Exception as exc:  # noqa: BLE001 -- a broken capture may fail to close, too
                log.warning("camera %s: capture not released cleanly: %s", self.camera_id, exc)
            self._cap = None

    def _reconnect(self) -> bool:
        """Wait out the backoff (doubling, capped) and open a fresh capture; False when the source gives up
        or is stopped. Raises what the capture raises beyond SourceError (handled in `_run`)."""
        opts = self.options
        if not self.live or (opts.max_reconnects is not None and self.attempts >= opts.max_reconnects):
            self._set_state(SourceState.FAILED, f"gave up after {self.attempts} reconnect attempts")
            return False
        if self._stop.wait(self._backoff):
            return False
        self.attempts += 1
        self.reconnects += 1
        self._backoff = min(self._backoff * 2, opts.backoff_max_s)
        try:
            self._cap = self._open_capture()
        except SourceError as exc:
            self.last_error = str(exc)[:200]
            self._set_state(SourceState.RECONNECTING, f"attempt {self.attempts}: {exc}")
            return True
        self._on_opened()
        return True

    def _loop(self) -> None:
        last_ts: float | None = None
        pace_start: float | None = None
        offset = 0.0  # stream time added to the file position after each loop
        while not self._stop.is_set():
            if self._cap is None:
                if not self._reconnect():
                    return
                continue
            cap = self._cap
            if not cap.grab():
                if self.live:
                    self.state  # noqa: B018 -- records `stalled` first if the wait was a stall
                    cap.release()
                    self._cap = None
                    self.last_error = "stream ended or read timed out"
                    self._set_state(SourceState.RECONNECTING, self.last_error)
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
            # a whole frame came through: the next failure starts its backoff afresh
            self.attempts, self._backoff = 0, self.options.backoff_initial_s

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
