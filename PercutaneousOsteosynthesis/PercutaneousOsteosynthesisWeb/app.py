"""``posteo serve``: the web planner's server (trame) on a trame-slicer ``SlicerApp`` and the Lib's planning session."""

from __future__ import annotations

from pathlib import Path

from trame.app import TrameApp
from trame_server.utils.asynchronous import create_task
from trame_slicer import module as trame_slicer_module
from trame_slicer.core import LayoutManager, SlicerApp
from trame_slicer.rca_view import register_rca_factories

from . import views
from .planner import Planner
from .ui import build_ui

WS_MAX_MESSAGE_BYTES = 2_000_000_000  # a CT uploaded from the browser arrives in one message (chunked by wslink)


class PlannerApp(TrameApp):
    """The page, its Slicer views and its :class:`.planner.Planner`; results are saved under ``out_dir``."""

    def __init__(self, server=None, out_dir="posteo-web"):
        super().__init__(server)
        self.server.enable_module(trame_slicer_module)
        self.slicer_app = SlicerApp()
        register_rca_factories(self.slicer_app.view_manager, self.server)
        self.layout_manager = LayoutManager(self.slicer_app.scene, self.slicer_app.view_manager, self.server)
        self.layout_manager.register_layout_dict(LayoutManager.default_grid_configuration())
        self.layout_manager.set_layout(views.LAYOUT)
        self.planner = Planner(self.server, self.slicer_app, out_dir)
        self.ui = build_ui(self.server, self.planner, self.layout_manager)
        self.server.state.trame__title = "posteo planner"


def serve(ct=None, phantom: bool = False, port: int = 8080, host: str = "localhost", out_dir="posteo-web",
          phantom_options: dict | None = None) -> int:
    """Start the web planner at http://host:port/ (blocks until stopped); ``ct`` (a ``CTVolume`` already read, or a
    file) or the ``phantom`` is opened when the server is ready."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    app = PlannerApp(out_dir=out_dir)
    planner = app.planner

    def on_ready(**_):
        if isinstance(ct, (str, Path)):
            create_task(planner.load_ct_path(ct))
        elif ct is not None:
            planner.open_ct(ct)
        elif phantom:
            create_task(planner.load_phantom(**(phantom_options or {})))

    app.server.controller.on_server_ready.add(on_ready)
    app.server.start(port=int(port), host=host, open_browser=False, ws_max_msg_size=WS_MAX_MESSAGE_BYTES)
    return 0
