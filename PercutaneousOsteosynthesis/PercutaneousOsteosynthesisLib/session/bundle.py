"""A planning session to and from files: the :class:`plan.model.Plan` it holds, the plan bundle it exports (as
``posteo plan`` writes it) and plan files it imports (read with Slicer's markups reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import PosteoInputError
from . import screw_nodes as sn


class Bundle:
    """Mixin of :class:`PlanningSession`."""

    def plan(self):
        """The :class:`plan.model.Plan` (LPS mm) built from the session's nodes (RAS control points converted)."""
        from ..plan.model import Plan

        screws = [self.screw(n) for n in self.screw_names()]
        results = {}
        for node in self.screw_line_nodes():
            check = sn.read_check(node)
            if check is not None:
                results[node.GetAttribute(sn.SCREW_NAME)] = check
        lesions, cement = self._seeds_and_injections()
        return Plan(self.name, screws, lesions, cement, self.margin_mm, str(self.ct.source) if self.ct is not None else "",
                    results, self.patient_position)

    def export(self, out_dir, progress=None) -> dict:
        """Write the plan bundle to ``out_dir`` as ``plan.runner.run_plan`` does (``plan.mrk.json``, ``report.json``,
        ``screws/<name>.vtk|stl`` in LPS, ``plan.seg.nrrd`` with the bone, lesion and cement segments) plus
        ``report.html`` when the HTML report is available.  Returns ``{what: path}`` of the files written."""
        from ..bone.outputs import bone_segments
        from ..fileio.segmentation import write_segmentation
        from ..plan.markups import save_plan
        from ..report.json_report import build_report, write_report

        self._require_bone()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in self.screw_names():
            self.update_screw(name)
        plan = self.plan()
        if plan.screws:
            from ..plan.runner import run_plan

            report = run_plan(self.ct, plan, out, bone=self.bone, catalog=self.catalog, progress=progress)
        else:  # the same files from the session's own lesion and cement results
            extra = self.lesion_cement_report()
            report = build_report(self.ct, self.margin_mm, [], [], self.bone.volumes_ml(), {"plan": plan.name})
            report["lesions"], report["cement"] = extra["lesions"], extra["cement"]
            write_segmentation(out / "plan.seg.nrrd", bone_segments(self.bone) + extra["segments"], self.bone.geometry)
            save_plan(plan, out / "plan.mrk.json")
            write_report(out / "report.json", report)
        files = {"plan": out / "plan.mrk.json", "report": out / "report.json", "segmentation": out / "plan.seg.nrrd"}
        if plan.screws:
            files["screws"] = out / "screws"
        html = self._write_html(out, report)
        if html is not None:
            files["html"] = html
        return {k: Path(v) for k, v in files.items() if Path(v).exists()}

    def export_report(self, folder, progress=None) -> list[Path]:
        """Only ``report.json`` (and ``report.html`` when available) of the session in ``folder``; returns the paths."""
        import shutil
        import tempfile

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="posteo-report-") as tmp:
            files = self.export(tmp, progress=progress)
            return [Path(shutil.copyfile(files[k], out / files[k].name)) for k in ("report", "html") if k in files]

    def _write_html(self, out: Path, report: dict):
        try:
            from ..report.html_report import write_report
        except ImportError:  # the report's optional packages are missing (e.g. in a bare Slicer)
            return None
        return write_report(out / "report.html", report=report, bone=self.bone, ct=self.ct)

    def import_plan(self, path, observe: bool = False) -> list[str]:
        """Load a plan file (or files/folder) with Slicer's markups reader and rebuild its screws (models, checks;
        observed for live feedback when ``observe``); lesions and cement are re-segmented / re-simulated.  Returns the
        screw names."""
        from ..plan.markups import load_plan, load_plan_into_scene
        from ..plan.markups_schema import decode_description

        self._require_bone()
        plan = load_plan(path)
        clash = [s.name for s in plan.screws if s.name in self.screw_names()]
        if clash:
            raise PosteoInputError(path, f"screws already in the session: {', '.join(clash)}")
        ids = load_plan_into_scene(path, self.scene)
        nodes = [self.scene.GetNodeByID(i) for i in ids]
        lines = [n for n in nodes if n is not None and n.IsA("vtkMRMLMarkupsLineNode")]
        by_name = {}
        for n in lines:
            fields = None
            for i in range(n.GetNumberOfControlPoints()):
                fields = fields or decode_description(n.GetNthControlPointDescription(i), path)
            by_name[(fields or {}).get("name", n.GetName())] = n
        used = set()
        self.margin_mm = plan.margin_mm
        self.patient_position = plan.patient_position
        for s in plan.screws:
            node = by_name.get(s.name)
            if node is None or id(node) in used:
                free = [n for n in lines if id(n) not in used]
                node = min(free, key=lambda n: float(np.linalg.norm(sn.control_point_lps(n, 0) - s.entry_lps))) if free else None
            if node is not None:
                used.add(id(node))
                if node.GetStorageNode() is not None:
                    self.folder.remove_nodes([node.GetStorageNode()])
                    node.SetAndObserveStorageNodeID(None)
            self.add_screw(s.name, s.entry_lps, s.tip_lps, s.implant_id, line_node=node, role=s.role)
            self.set_screw(s.name, s)
        self.folder.remove_nodes([n for n in nodes if n is not None and id(n) not in used])
        for les in plan.lesions:
            self.add_lesion(les.name, les.seed_lps, les.pain)
        for inj in plan.cement:
            self.add_cement(inj.name, inj.point_lps, inj.volume_ml)
        for s in plan.screws if observe else ():
            self.observe_screw(s.name)
        return [s.name for s in plan.screws]
