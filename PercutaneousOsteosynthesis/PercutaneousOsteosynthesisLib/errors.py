"""Errors raised on bad input.  Every message names the offending file (or value) and the problem."""

from __future__ import annotations

import os


class PosteoInputError(ValueError):
    """Bad input: a missing/corrupt file, an unusable image, an invalid screw or plan.

    ``source`` is the file path (or a short description of the value) that is at fault and
    ``problem`` says what is wrong with it.  The CLI turns this error into exit code 2.
    """

    def __init__(self, source, problem: str):
        self.source = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")
