"""The page: a drawer of planning panels beside Slicer's slice and 3D views (trame + Vuetify 3)."""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_vuetify.ui.vuetify3 import SinglePageWithDrawerLayout

from PercutaneousOsteosynthesisLib.session import tables

TITLE = "PercutaneousOsteosynthesis web planner"
DRAWER_WIDTH = 600
STATUS_STYLE = "height: 3.2em; overflow: hidden; flex: 0 0 auto;"
OVERLAY_STYLE = "position: absolute; top: 0; left: 0; right: 0; z-index: 10; pointer-events: auto;"
TABLE_STYLE = """
.po-table { border-collapse: collapse; width: 100%; font-size: 12px; }
.po-table th, .po-table td { border: 1px solid #555; padding: 2px 4px; text-align: left; }
.po-table tr.po-row { cursor: pointer; }
.po-table tr.po-selected { outline: 2px solid #4fc3f7; }
"""


def _files_trigger(server, action) -> str:
    """A file input's change event sends the chosen files (name, type, content) to ``action``."""
    return f"trigger('{server.controller.trigger_name(action)}', [$event.target.files])"


def _table(columns: str, rows: str, key: str = "", grade_column: int | None = None, select=None, actions=None) -> None:
    """A table of ``rows`` (state name of ``{"key", "cells", ...}`` dicts) under ``columns`` (state name of a list);
    ``grade_column``: the cell shown in the grade's colour; ``select``: click on a row; ``actions``: ``[(label, fn)]``
    buttons per row."""
    with html.Table(classes="po-table", __properties=[("data_table", "data-table")], data_table=key):
        with html.Tr():
            html.Th("{{ c }}", v_for=f"c in {columns}", key="c")
            if actions:
                html.Th("")
        row_attrs = {"v_for": f"row in {rows}", "key": "row.key", "classes": "po-row",
                     "__properties": [("data_grade", "data-grade"), ("data_key", "data-key")],
                     "data_grade": ("row.grade",), "data_key": ("row.key",),
                 "style": ("row.bg ? { background: row.bg, color: '#000' } : {}",)}
        if select is not None:
            row_attrs["click"] = (select, "[row.key]")
        with html.Tr(**row_attrs):
            if grade_column is None:
                html.Td("{{ cell }}", v_for="(cell, i) in row.cells", key="i")
            else:
                html.Td("{{ cell }}", v_for="(cell, i) in row.cells", key="i",
                        style=(f"i === {grade_column} ? {{ background: row.chip, color: row.chip_text }} : {{}}",))
            if actions:
                with html.Td():
                    for label, fn in actions:
                        v3.VBtn(label, size="x-small", variant="tonal", click=(fn, "[row.key]"), classes="mr-1")


def build_ui(server, planner, layout_manager):
    """The page of ``planner`` (a :class:`.planner.Planner`) with the views of ``layout_manager``."""
    n = planner.typed.name
    busy = n.busy
    no_bone = f"{busy} || !{n.has_bone}"
    with SinglePageWithDrawerLayout(server, theme="dark", width=DRAWER_WIDTH) as layout:
        layout.title.set_text(TITLE)
        html.Style(TABLE_STYLE)
        with layout.toolbar:
            v3.VSpacer()
            html.Span("{{ " + n.cursor_text + " }}", classes="text-caption mr-4", id="po-cursor")
            v3.VProgressLinear(active=(busy,), model_value=(n.progress,), absolute=True, location="bottom", color="green")

        with layout.drawer, html.Div(classes="pa-2", style="font-size: 13px;"):
            _panel_files(server, planner, n)
            _panel_screws(planner, n, no_bone)
            _panel_lesions(planner, n, no_bone)
            _panel_corridors(planner, n, no_bone)

        with layout.content, html.Div(style="position: relative; height: 100%; display: flex; flex-direction: column;"):
            # fixed heights above the views: a message must never resize them (clicks map to the same place)
            html.Div("{{ " + n.status + " }}", id="po-status", classes="text-body-2 px-2 py-1", style=STATUS_STYLE)
            with html.Div(style="flex: 1 1 auto; position: relative; min-height: 0;"):
                layout_manager.initialize_layout_grid(layout)
                with html.Div(style=OVERLAY_STYLE):
                    v3.VAlert(text=(n.error,), v_if=n.error, type="error", closable=True, density="compact", id="po-error",
                              click_close=f"{n.error} = ''")
                    html.Div("{{ " + n.progress_text + " }} {{ " + n.progress + " }}%", v_if=busy, id="po-progress",
                             classes="text-caption px-2", style="background: rgba(0, 0, 0, 0.6);")
    return layout


def _panel_files(server, planner, n) -> None:
    html.H3("Patient CT and plan", classes="my-1")
    with html.Div(classes="d-flex flex-wrap align-center", style="gap: 6px;"):
        v3.VBtn("Load phantom", click=planner.load_phantom, disabled=(n.busy,), size="small", id="po-load-phantom")
        html.Label("CT file", classes="ml-2")
        html.Input(type="file", accept=".nii,.gz,.nrrd,.mha,.mhd,.dcm", change=_files_trigger(server, planner.load_ct_upload),
                   id="po-ct-file", disabled=(n.busy,))
    with html.Div(classes="d-flex flex-wrap align-center mt-1", style="gap: 6px;"):
        v3.VBtn("Build bone model", click=planner.build_bone, disabled=(f"{n.busy} || !{n.has_ct}",), size="small",
                id="po-build-bone", color="primary")
        v3.VTextField(label="Margin (mm)", v_model=(n.margin_mm,), type="number", step="0.5", density="compact",
                      hide_details=True, style="max-width: 120px;", change=(planner.set_margin, "[$event.target.value]"))
        v3.VCheckbox(label="Bone in 3D", model_value=(n.bone_in_3d,), density="compact", hide_details=True,
                     update_modelValue=(planner.show_bone_in_3d, "[$event]"), disabled=(f"!{n.has_bone}",))
    with html.Div(classes="d-flex flex-wrap align-center mt-1", style="gap: 6px;"):
        v3.VBtn("Save plan", click=planner.save, disabled=(f"{n.busy} || !{n.has_bone}",), size="small", id="po-save")
        v3.VBtn("Download plan.mrk.json", v_if=n.plan_json, size="small", variant="tonal",
                click=f"utils.download('plan.mrk.json', {n.plan_json}, 'application/json')")
        html.Label("Open plan", classes="ml-2")
        html.Input(type="file", accept=".json", change=_files_trigger(server, planner.open_plan_upload), id="po-plan-file",
                   disabled=(f"{n.busy} || !{n.has_bone}",))
    html.Div("{{ " + n.saved_text + " }}", classes="text-caption", id="po-saved")


def _panel_screws(planner, n, no_bone) -> None:
    html.H3("Screws", classes="mt-3 mb-1")
    with html.Div(classes="d-flex flex-wrap align-center", style="gap: 6px;"):
        v3.VBtn("Place screw (2 clicks)", click=(planner.start_placing, "['screw']"), disabled=(no_bone,), size="small",
                id="po-place-screw", color="primary")
        v3.VBtn("Cancel", click=planner.cancel_placing, v_if=n.placing, size="small", variant="tonal")
        v3.VBtn("Suggest safer", click=planner.suggest, disabled=(f"{no_bone} || !{n.selected_screw}",), size="small")
        html.Span("live check {{ " + n.last_check_ms + " }} ms · {{ " + n.updates + " }} updates", classes="text-caption",
                  id="po-live")
    _table(n.screw_columns, n.screw_rows, "screws", grade_column=tables.SCREW_GRADE_COLUMN, select=planner.select_screw,
           actions=[("remove", planner.remove_screw)])
    with html.Div(v_if=f"{n.suggestion_rows}.length", classes="mt-1"):
        with html.Div(v_for=f"s in {n.suggestion_rows}", key="s.index", classes="d-flex align-center"):
            v3.VBtn("accept", size="x-small", variant="tonal", click=(planner.accept_suggestion, "[s.index]"), classes="mr-2")
            html.Span("{{ s.text }}")
    html.H4("Guidance at the CT table", classes="mt-2 mb-1")
    _table(n.guidance_columns, n.guidance_rows, "guidance")
    with html.Div(v_if=n.probe_png, classes="mt-2"):
        with html.Div(classes="d-flex align-center", style="gap: 6px;"):
            html.H4("Probe's-eye view of {{ " + n.selected_screw + " }}: entry, middle, tip, along")
            v3.VBtn("update", size="x-small", variant="tonal", click=(planner.select_screw, f"[{n.selected_screw}]"))
        html.Img(src=(n.probe_png,), style="width: 100%;", id="po-probe")


def _panel_lesions(planner, n, no_bone) -> None:
    html.H3("Lesions and cement", classes="mt-3 mb-1")
    with html.Div(classes="d-flex flex-wrap align-center", style="gap: 6px;"):
        v3.VBtn("Lesion seed (1 click)", click=(planner.start_placing, "['lesion']"), disabled=(no_bone,), size="small",
                id="po-place-lesion")
        v3.VTextField(label="Cement (mL)", v_model=(n.cement_volume_ml,), type="number", step="0.5", density="compact",
                      hide_details=True, style="max-width: 110px;")
        v3.VBtn("Cement point (1 click)", click=(planner.start_placing, "['cement']"), disabled=(no_bone,), size="small",
                id="po-place-cement")
    _table(n.lesion_columns, n.lesion_rows, "lesions")
    _table(n.cement_columns, n.cement_rows, "cement")


def _panel_corridors(planner, n, no_bone) -> None:
    html.H3("Named corridors", classes="mt-3 mb-1")
    v3.VBtn("Find corridors", click=planner.find_corridors, disabled=(no_bone,), size="small", id="po-find-corridors")
    _table(n.corridor_columns, n.corridor_rows, "corridors", grade_column=tables.CORRIDOR_GRADE_COLUMN,
           actions=[("accept", planner.accept_corridor)])
