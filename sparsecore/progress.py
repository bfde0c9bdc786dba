"""Progress bars that stay readable in a log file.

On a terminal, a tqdm bar that disappears when done. Elsewhere (output redirected to a
file or a pipe, CI logs), no refreshes at all: one line per finished bar, e.g.
``mlp fold 0 seed 0: dense: 30/30 epochs, 9.8 s, loss 0.0213``.
"""

import sys
import time

__all__ = ["Progress"]


class _LineBar:
    def __init__(self, desc, total, unit, stream):
        self.desc, self.total, self.unit, self.stream = desc, total, unit, stream
        self.n, self.postfix, self.start = 0, "", time.monotonic()

    def update(self, n=1):
        self.n += n

    def set_postfix(self, **kwargs):
        self.postfix = ", ".join(f"{k} {v}" for k, v in kwargs.items())

    def close(self):
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}s, "
              f"{time.monotonic() - self.start:.1f} s{extra}", file=self.stream, flush=True)


class _Bar:
    """What :meth:`Progress.bar` returns: ``tick(*args)`` per step, then ``close()``."""

    def __init__(self, inner):
        self.inner = inner

    def tick(self, *args):
        self.inner.update(1)
        if len(args) >= 2 and isinstance(args[1], float):
            self.inner.set_postfix(loss=f"{args[1]:.4f}")

    def close(self):
        self.inner.close()


class Progress:
    """Progress reporting on ``stream`` (stderr): tqdm on a terminal, one line per bar
    otherwise, nothing when not ``enabled``."""

    def __init__(self, enabled=True, stream=None):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr

    @property
    def interactive(self):
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def bar(self, desc, total, unit="step"):
        """A bar, or None when disabled."""
        if not self.enabled:
            return None
        if self.interactive:
            from tqdm.auto import tqdm
            return _Bar(tqdm(total=total, desc=desc, unit=unit, leave=False,
                             file=self.stream))
        return _Bar(_LineBar(desc, total, unit, self.stream))

    def __call__(self, desc, total):
        return self.bar(desc, total, "epoch" if "RTL" not in desc else "layer")

    def log(self, message):
        if not self.enabled:
            return
        if self.interactive:
            from tqdm.auto import tqdm
            tqdm.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)
