"""Progress bars for the command line: a tqdm bar fed by the Lib's ``progress(fraction, message)`` callbacks."""

from __future__ import annotations

import contextlib


class ProgressBar:
    """A callable ``(fraction, message)`` that moves a tqdm bar; ``enabled=False`` shows nothing."""

    def __init__(self, desc: str, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=100, desc=desc, unit="%", leave=False, disable=not enabled,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def __call__(self, fraction: float, message: str):
        self.bar.n = int(round(100 * max(0.0, min(1.0, fraction))))
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()


@contextlib.contextmanager
def progress_bar(desc: str, quiet: bool = False):
    """``with progress_bar("bone model") as bar: build_bone_model(ct, progress=bar)``; the bar closes on exit."""
    bar = ProgressBar(desc, enabled=not quiet)
    try:
        yield bar
    finally:
        bar.close()
