"""Live feedback while a screw is dragged: control-point observers, throttling and the deferred last update.

Moving a control point of an observed screw calls ``update(name)``; a move closer than ``throttle_ms`` to the end of
the previous update is deferred, and the last deferred state is processed on ``PointEndInteractionEvent`` or by
:meth:`LiveUpdates.flush`.  ``callbacks`` (callables of the screw name) run after each live update.
"""

from __future__ import annotations

import contextlib
import time


class LiveUpdates:
    throttle_ms = 30.0

    def __init__(self, update):
        self._update = update  # callable(name): re-check and redraw one screw
        self._observed: dict = {}  # screw name -> (line node, [observer tags])
        self._pending: set = set()
        self._last_end = -1e9
        self._suspended = False
        self.callbacks: list = []

    @contextlib.contextmanager
    def suspended(self):
        """No live updates while the session itself moves control points."""
        was, self._suspended = self._suspended, True
        try:
            yield
        finally:
            self._suspended = was

    def observe(self, name: str, node) -> None:
        import slicer

        if name in self._observed:
            return
        tags = [node.AddObserver(slicer.vtkMRMLMarkupsNode.PointModifiedEvent, self._on_point_modified),
                node.AddObserver(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent, self._on_end_interaction)]
        self._observed[name] = (node, tags)

    def unobserve(self, name: str) -> None:
        node, tags = self._observed.pop(name, (None, []))
        for tag in tags:
            node.RemoveObserver(tag)
        self._pending.discard(name)

    def unobserve_node(self, node) -> None:
        for name, (observed, _) in list(self._observed.items()):
            if observed is node:
                self.unobserve(name)

    def stop(self) -> None:
        for name in list(self._observed):
            self.unobserve(name)
        self._pending = set()

    def forget(self, name: str) -> None:
        self._pending.discard(name)

    def observed(self) -> list[str]:
        return list(self._observed)

    def pending(self) -> list[str]:
        return sorted(self._pending)

    def flush(self) -> None:
        for name in sorted(self._pending):
            self._run(name)

    def _name_of(self, node) -> str | None:
        return next((name for name, (n, _) in self._observed.items() if n is node), None)

    def _on_point_modified(self, caller, event=None) -> None:
        name = None if self._suspended else self._name_of(caller)
        if name is None:
            return
        if 1e3 * (time.perf_counter() - self._last_end) < self.throttle_ms:
            self._pending.add(name)
            return
        self._run(name)

    def _on_end_interaction(self, caller, event=None) -> None:
        name = self._name_of(caller)
        if name is not None and name in self._pending:
            self._run(name)

    def _run(self, name: str) -> None:
        self._pending.discard(name)
        self._update(name)
        self._last_end = time.perf_counter()
        for callback in list(self.callbacks):
            callback(name)
