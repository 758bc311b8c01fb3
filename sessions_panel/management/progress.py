"""A dependency-free progress bar for management commands on large session sets."""

from __future__ import annotations

from typing import Any


class Progress:
    """Redraws one line (``\\r``) on a terminal; prints a line per step otherwise."""

    def __init__(self, stream: Any, total: int | None, label: str, width: int = 30) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self.width = width
        self.done = 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._printed = -1

    def advance(self, count: int) -> None:
        self.done += count
        self._draw(final=False)

    def finish(self) -> None:
        self._draw(final=True)

    def _draw(self, final: bool) -> None:
        if self.total:
            filled = min(self.width, self.width * self.done // self.total)
            bar = "#" * filled + "." * (self.width - filled)
            text = f"{self.label} [{bar}] {self.done:,}/{self.total:,}"
        else:
            text = f"{self.label} {self.done:,}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        elif self.done != self._printed:  # a log file gets each figure once
            self.stream.write(text + "\n")
            self._printed = self.done
        self.stream.flush()
