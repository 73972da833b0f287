"""Worker threads that poll a table for work: one per process, idle when there is none."""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar, Self

from django.db import close_old_connections

log = logging.getLogger(__name__)

ERROR_PAUSE = 5.0  # seconds to wait after a failed step before trying again


class PollingThread(threading.Thread):
    """Runs :meth:`step` again at once while it finds work and waits ``poll_seconds``
    when it finds none. :meth:`setup` runs once, first. A failing step is logged, kept
    in ``last_error`` (status pages show it) and retried after a pause: the thread never
    dies of one bad row.
    """

    thread_name: ClassVar[str] = "poller"
    _started: ClassVar[Any] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()
    last_error: ClassVar[str] = ""

    def __init__(self, poll_seconds: float) -> None:
        super().__init__(name=self.thread_name, daemon=True)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    @classmethod
    def default_poll_seconds(cls) -> float:
        return 1.0

    @classmethod
    def start_once(cls) -> Self:
        with cls._lock:
            started = cls.__dict__.get("_started")
            if started is None or not started.is_alive():
                started = cls(cls.default_poll_seconds())
                cls._started = started
                started.start()
            return started  # type: ignore[no-any-return]

    @classmethod
    def stop_started(cls, timeout: float = 10.0) -> None:
        """Stop this process's thread, if it runs, and wait for it (a worker shutting down)."""
        started = cls.__dict__.get("_started")
        if started is not None:
            started.stopping.set()
            started.join(timeout)

    @classmethod
    def state(cls) -> dict[str, Any]:
        started = cls.__dict__.get("_started")
        return {
            "running_here": started is not None and started.is_alive(),
            "last_error": cls.last_error,
        }

    def setup(self) -> None:
        """Work to do once before the first step."""

    def step(self) -> bool:
        """Do one round of work; return whether there was any."""
        raise NotImplementedError

    def run(self) -> None:
        ready = False
        while not self.stopping.is_set():
            try:
                close_old_connections()
                if not ready:
                    self.setup()
                    ready = True
                busy = self.step()
                type(self).last_error = ""
            except Exception as exc:
                log.exception("%s failed", self.thread_name)
                type(self).last_error = f"{type(exc).__name__}: {exc}"
                busy = False
            if not busy:
                self.stopping.wait(ERROR_PAUSE if type(self).last_error else self.poll_seconds)
