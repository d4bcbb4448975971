"""One run at a time per set of output tables: a lock file created atomically.

A run holds the lock for its whole duration; a second run waits up to ``wait_seconds`` and then
fails with a message naming the holder. A lock whose holder is gone is taken over: on the same
host when its process no longer exists, elsewhere when it is older than ``stale_after_seconds``.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from pipelines.errors import RunLockedError

__all__ = ["RunLock", "RunLockedError"]


class RunLock:
    def __init__(self, path: str, run_id: str, job: str, wait_seconds: float = 0,
                 stale_after_seconds: float = 6 * 3600, poll_seconds: float = 2.0):
        self.path = Path(path[len("file:"):] if path.startswith("file:") else path)
        self.run_id, self.job = run_id, job
        self.wait_seconds, self.stale_after_seconds, self.poll_seconds = wait_seconds, stale_after_seconds, poll_seconds

    def _try_create(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump({"run_id": self.run_id, "job": self.job, "host": socket.gethostname(),
                       "pid": os.getpid(), "since": time.time()}, handle)
        return True

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _holder_is_gone(self, holder: dict, age: float) -> bool:
        if age > self.stale_after_seconds:
            return True
        if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
            return False
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, owned by another user
            return False
        return False

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while not self._try_create():
            holder = self.holder()
            age = time.time() - holder.get("since", time.time())
            if self._holder_is_gone(holder, age):
                self.path.unlink(missing_ok=True)
                continue
            if time.monotonic() >= deadline:
                raise RunLockedError(
                    f"another run holds the lock {self.path}: {holder.get('job', '?')} run "
                    f"{holder.get('run_id', '?')} on {holder.get('host', '?')} (pid {holder.get('pid', '?')}), "
                    f"for {age:.0f}s. Wait for it to finish (or pass --wait-seconds); if that process is gone, "
                    f"delete the lock file."
                )
            time.sleep(self.poll_seconds)

    def release(self) -> None:
        if self.holder().get("run_id") == self.run_id:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
