"""Errors raised on bad input.  Every message names the offending file (or value) and the problem."""

from __future__ import annotations

import math
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


def check_parameters(params, what: str, positive=(), non_negative=()) -> None:
    """Raise unless every field of the dataclass ``params`` is a finite number, the fields named in ``positive`` are
    > 0 and those in ``non_negative`` >= 0 (``what``: "bone parameter", "lesion parameter", ...)."""
    from dataclasses import asdict

    for k, v in asdict(params).items():
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise PosteoInputError(f"{what} {k}", f"must be a finite number, got {v}")
    for k in positive:
        if getattr(params, k) <= 0:
            raise PosteoInputError(f"{what} {k}", "must be > 0")
    for k in non_negative:
        if getattr(params, k) < 0:
            raise PosteoInputError(f"{what} {k}", "must be >= 0")


def check_margin_mm(value, source: str = "margin") -> float:
    """The safety margin as a float (mm); raise unless it is a finite number >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and v >= 0):
        raise PosteoInputError(f"{source} {value}", "must be a finite number of mm >= 0")
    return v
