"""The planning session: a plan kept in MRML nodes under one subject-hierarchy folder (used by the Slicer module,
the web planner and from Python)."""

from .planning import PlanningSession

__all__ = ["PlanningSession"]
