"""Another process holding a write lock file (transactions.file_write_lock) until told."""
from __future__ import annotations

import subprocess
import sys

_HOLD = """
import sys
from vectorflow.transactions import file_write_lock
with file_write_lock(sys.argv[1], wait=30):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class LockHolder:
    """``with LockHolder(path) as holder:`` another process holds the lock inside the block
    (from when it says so) until ``holder.release()`` or the end of the block."""

    def __init__(self, path: str):
        self.path = path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LockHolder:
        self.process = subprocess.Popen([sys.executable, "-c", _HOLD, self.path], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout.readline() == "held\n"
        return self

    def release(self) -> None:
        """Tell the other process to let go; return once it has."""
        if self.process.poll() is None:
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
            assert self.process.stdout.readline() == "released\n"
        self.process.wait(timeout=10)

    def __exit__(self, *exc) -> None:
        try:
            self.release()
        finally:
            if self.process.poll() is None:
                self.process.kill()
