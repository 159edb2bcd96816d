"""What a planning session tells about its screws: full checks with metal and pair gaps, CT guidance, safer
trajectories nearby, the femoral-neck set metrics and the probe's-eye reslice plane."""

from __future__ import annotations

import numpy as np

from ..errors import PosteoInputError
from ..geometry.frames import lps_to_ras


class Findings:
    """Mixin of :class:`PlanningSession` (reads the screws, never changes them except ``accept_suggestion``)."""

    def check(self, name: str, profile: bool = False) -> dict:
        """Full check of a screw (``ScrewCheck.to_dict``) with its clearance to metal (mm, ``None`` without metal)."""
        from ..screws.clearance import check_screws

        self._require_bone()
        self.update_screw(name)
        checks, _ = check_screws([self.screw(name)], self.bone, self.margin_mm, metal=True, catalog=self.catalog)
        return checks[0].to_dict(profile=profile)

    def check_all(self) -> dict:
        """``{"screws": {name: check dict}, "pairs": [{a, b, min_gap_mm}]}`` for every screw."""
        from ..screws.clearance import check_screws

        self._require_bone()
        screws = [self.screw(n) for n in self.screw_names()]
        checks, pairs = check_screws(screws, self.bone, self.margin_mm, metal=True, catalog=self.catalog)
        return {"screws": {c.name: c.to_dict(profile=False) for c in checks}, "pairs": pairs}

    def femoral_neck_metrics(self) -> list[dict]:
        """Parallelism, spread and tip-apex distances of the screws whose role is femoral neck, per side."""
        from ..screws.femoral_neck import neck_set_metrics

        self._require_bone()
        return neck_set_metrics([self.screw(n) for n in self.screw_names()], self.bone)

    def guidance(self, name: str) -> dict:
        """CT-guidance numbers of the screw (``guidance.compute_guidance``, LPS)."""
        from ..screws.guidance import compute_guidance

        self._require_ct()
        return compute_guidance(self.screw(name), self.ct, patient_position=self.patient_position).to_dict()

    def suggest(self, name: str, n_best: int = 5, **kwargs) -> list[dict]:
        """Safer trajectories near the screw (``suggest.suggest_trajectories``), best first, as dicts (LPS)."""
        from ..screws.suggest import suggest_trajectories

        self._require_bone()
        found = suggest_trajectories(self.screw(name), self.bone, self.catalog, self.margin_mm, n_best=n_best, **kwargs)
        self.suggestions[name] = found
        return [s.to_dict() for s in found]

    def accept_suggestion(self, name: str, index: int = 0) -> dict:
        """Move the screw onto suggestion ``index`` of the last :meth:`suggest` (implant included); returns its check."""
        found = self.suggestions.get(name) or []
        if not 0 <= int(index) < len(found):
            raise PosteoInputError(f"suggestion {index} of screw '{name}'", f"no such suggestion ({len(found)} available)")
        return self.set_screw(name, found[int(index)].screw)

    def show_probe_view(self, name: str, fraction: float) -> None:
        """Red slice view perpendicular to the screw at ``fraction`` from the skin entry to the tip, Yellow along its
        axis (the scene's slice nodes, when present)."""
        normal, transverse, point = self.probe_plane_ras(name, fraction)
        red, yellow = (self.scene.GetNodeByID(f"vtkMRMLSliceNode{v}") for v in ("Red", "Yellow"))
        if red is not None:
            red.SetSliceToRASByNTP(*normal, *transverse, *point, 0)
        if yellow is not None:
            yellow.SetSliceToRASByNTP(*np.cross(normal, transverse), *normal, *point, 0)

    def probe_plane_ras(self, name: str, fraction: float, from_skin: bool = True):
        """Reslice plane of the probe's-eye view: ``(normal, transverse, point)`` in RAS, the normal along the
        screw (entry to tip), the point ``fraction`` (0..1) of the way from the skin entry (or the screw's entry
        when ``from_skin`` is False or the skin is not found) to the tip."""
        from ..geometry.vectors import perpendicular_frame

        entry, tip = self.screw_points_lps(name)
        start = entry
        if from_skin and self.ct is not None:
            try:
                start = np.asarray(self.guidance(name)["skin_entry_lps"], float)
            except PosteoInputError:
                start = entry
        f = min(max(float(fraction), 0.0), 1.0)
        u = (tip - entry) / np.linalg.norm(tip - entry)
        e1, _ = perpendicular_frame(u)
        return lps_to_ras(u), lps_to_ras(e1), lps_to_ras(start + f * (tip - start))
