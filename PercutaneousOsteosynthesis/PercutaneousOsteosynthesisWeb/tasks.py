"""Long steps (phantom, bone model, corridors) run in a worker thread while the page stays live: progress goes to
the page through the event loop, MRML nodes are only touched back on the server's own thread."""

from __future__ import annotations

import asyncio
import time


class BackgroundSteps:
    def __init__(self, state, data, on_error):
        self.state = state  # trame state (``with state:`` pushes changes to the page)
        self.data = data  # its PlannerState view (TypedState.data)
        self.on_error = on_error  # callable(exception): shows the message
        self._loop = None
        self._last_flush = 0.0

    def progress(self, fraction: float, message: str) -> None:
        """The Lib's ``progress(fraction, message)``, callable from the worker thread."""
        if self._loop is None or time.perf_counter() - self._last_flush < 0.2 and fraction < 1.0:
            return
        self._last_flush = time.perf_counter()
        self._loop.call_soon_threadsafe(self._show, fraction, message)

    def _show(self, fraction: float, message: str) -> None:
        with self.state:
            self.data.progress = round(100.0 * max(0.0, min(1.0, float(fraction))), 1)
            self.data.progress_text = str(message)

    async def run(self, title: str, work, then=None):
        """``work(progress)`` in a thread, then ``then(result)`` on the server thread; errors are shown, not raised."""
        if self.data.busy:
            return None
        self._loop = asyncio.get_running_loop()
        with self.state:
            self.data.busy, self.data.progress, self.data.progress_text, self.data.error = True, 0.0, title, ""
        try:
            result = await self._loop.run_in_executor(None, work, self.progress)
            if then is not None:
                result = then(result)
            return result
        except Exception as exc:  # shown on the page: a long step never kills the server
            self.on_error(exc)
            return None
        finally:
            with self.state:
                self.data.busy, self.data.progress, self.data.progress_text = False, 0.0, ""
