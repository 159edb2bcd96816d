"""Lesions and cement of a planning session: seeds and injection points in two markups point lists, the
segmented lesions and simulated cement as segments of one "plan segments" segmentation (all in the session folder).
"""

from __future__ import annotations

import vtk

from ..errors import PosteoInputError
from ..geometry.frames import lps_to_ras
from ..palette import CEMENT_RGB, lesion_rgb
from ..plan.markups import CEMENT_NODE_NAME, LESIONS_NODE_NAME
from .folder import NodeRole
from .screw_nodes import control_point_lps

PLAN_SEGMENTS_NAME = "Plan segments"


def labels(node) -> list[str]:
    return [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]


class LesionsAndCement:
    """Mixin of :class:`PlanningSession`: lesion seeds, segmented lesions, cement injections and their segments."""

    def _point_list(self, role: str, name: str):
        found = self.folder.nodes_with_role(role)
        if found:
            return found[0]
        node = self.folder.new_node("vtkMRMLMarkupsFiducialNode", name, role)
        node.CreateDefaultDisplayNodes()
        return node

    def plan_segmentation_node(self):
        """The segmentation holding the lesion and cement segments (created on first use)."""
        found = self.folder.nodes_with_role(NodeRole.PLAN_SEGMENTS)
        if found:
            return found[0]
        from ..fileio.scene import register_segmentation_converter_rules

        register_segmentation_converter_rules()
        node = self.folder.new_node("vtkMRMLSegmentationNode", PLAN_SEGMENTS_NAME, NodeRole.PLAN_SEGMENTS)
        node.CreateDefaultDisplayNodes()
        return node

    def _set_segment(self, name: str, mask, colour) -> str:
        from ..fileio.segmentation import oriented_labelmap

        seg_node = self.plan_segmentation_node()
        segmentation = seg_node.GetSegmentation()
        old = segmentation.GetSegmentIdBySegmentName(name)
        if old:
            segmentation.RemoveSegment(old)
        seg_node.AddSegmentFromBinaryLabelmapRepresentation(oriented_labelmap(mask, self.bone.geometry), name, list(colour))
        return segmentation.GetSegmentIdBySegmentName(name)

    def add_lesion(self, name: str | None, seed_lps, pain: str | None = None) -> dict:
        """Segment the lesion at ``seed_lps`` (LPS mm) into a segment of the plan segmentation; returns its metrics
        with the Mirels score (``pain``: mild / moderate / functional, or None).  ``name=None``: "Lesion N"."""
        from ..lesions.segmentation import segment_lesion
        from ..plan.model import LesionSeed

        self._require_bone()
        name = self.next_name("Lesion") if name is None else name
        seed = LesionSeed(name, seed_lps, pain)  # validates name, point and pain
        seeds = self._point_list(NodeRole.LESION_SEEDS, LESIONS_NODE_NAME)
        if seed.name in labels(seeds):
            raise PosteoInputError(f"lesion '{name}'", "a lesion of that name is already in the plan")
        lesion = segment_lesion(self.ct, self.bone, seed.seed_lps, seed.name)
        self.lesions[seed.name] = lesion
        # the lesion belongs to the bone, also where it breaks the cortex: live checks then agree with the export
        self.bone = self.bone.including([lesion.full_mask()])
        for screw_name in self.screw_names():
            self.update_screw(screw_name)
        index = seeds.AddControlPoint(vtk.vtkVector3d(*lps_to_ras(seed.seed_lps)), seed.name)
        seeds.SetNthControlPointDescription(index, pain or "")
        self._set_segment(seed.name, lesion.full_mask(), lesion_rgb(len(self.lesions) - 1))
        return self.lesion_info(seed.name)

    def lesion_names(self) -> list[str]:
        found = self.folder.nodes_with_role(NodeRole.LESION_SEEDS)
        return labels(found[0]) if found else []

    def set_lesion_pain(self, name: str, pain: str | None) -> dict:
        from ..plan.model import LesionSeed

        LesionSeed(name, [0, 0, 0], pain)  # validates
        seeds = self._point_list(NodeRole.LESION_SEEDS, LESIONS_NODE_NAME)
        seeds.SetNthControlPointDescription(labels(seeds).index(name), pain or "")
        return self.lesion_info(name)

    def lesion_info(self, name: str) -> dict:
        """Metrics of a segmented lesion (``Lesion.to_dict``), its Mirels score and its relation to each screw."""
        from ..lesions.analysis import lesion_fracture_risk, lesion_mirels, screw_relation

        if name not in self.lesions:
            raise PosteoInputError(f"lesion '{name}'", "not segmented in this session")
        seeds = self._point_list(NodeRole.LESION_SEEDS, LESIONS_NODE_NAME)
        pain = seeds.GetNthControlPointDescription(labels(seeds).index(name)) or None
        lesion = self.lesions[name]
        out = lesion.to_dict()
        out["pain"] = pain
        out["mirels"] = lesion_mirels(lesion, self.bone, pain)
        out["fracture_risk"] = lesion_fracture_risk(lesion, self.bone)
        out["screws"] = [screw_relation(self.screw(n), lesion, self.bone) for n in self.screw_names()]
        return out

    def add_cement(self, name: str | None, point_lps, volume_ml: float) -> dict:
        """Simulate ``volume_ml`` mL of cement injected at ``point_lps`` (LPS mm) into a plan segment; returns
        ``CementResult.to_dict`` (fill of each lesion, leak risk).  ``name=None``: "Cement N"."""
        from ..lesions.cement import simulate_cement
        from ..plan.model import CementInjection

        self._require_bone()
        name = self.next_name("Cement") if name is None else name
        inj = CementInjection(name, point_lps, volume_ml)
        points = self._point_list(NodeRole.CEMENT_INJECTIONS, CEMENT_NODE_NAME)
        if inj.name in labels(points):
            raise PosteoInputError(f"cement '{name}'", "an injection of that name is already in the plan")
        screws = [self.screw(n) for n in self.screw_names()]
        result = simulate_cement(self.ct, self.bone, inj.point_lps, inj.volume_ml, list(self.lesions.values()), inj.name,
                                 screws=screws)
        self.cement[inj.name] = result
        index = points.AddControlPoint(vtk.vtkVector3d(*lps_to_ras(inj.point_lps)), inj.name)
        points.SetNthControlPointDescription(index, repr(inj.volume_ml))
        self._set_segment(inj.name, result.mask, CEMENT_RGB)
        return result.to_dict()

    def cement_names(self) -> list[str]:
        found = self.folder.nodes_with_role(NodeRole.CEMENT_INJECTIONS)
        return labels(found[0]) if found else []

    def _seeds_and_injections(self):
        """(lesion seeds, cement injections) of the session's point lists (LPS)."""
        from ..plan.model import CementInjection, LesionSeed

        lesions = [LesionSeed(node.GetNthControlPointLabel(i), control_point_lps(node, i), node.GetNthControlPointDescription(i) or None)
                   for node in self.folder.nodes_with_role(NodeRole.LESION_SEEDS) for i in range(node.GetNumberOfControlPoints())]
        cement = [CementInjection(node.GetNthControlPointLabel(i), control_point_lps(node, i), float(node.GetNthControlPointDescription(i)))
                  for node in self.folder.nodes_with_role(NodeRole.CEMENT_INJECTIONS) for i in range(node.GetNumberOfControlPoints())]
        return lesions, cement

    def lesion_cement_report(self) -> dict:
        """Lesions and cement of the session as in ``analyze_lesions_and_cement`` (from the cached results)."""
        lesions = [self.lesion_info(n) for n in self.lesion_names() if n in self.lesions]
        cement = [self.cement[n].to_dict() for n in self.cement_names() if n in self.cement]
        segments = [(n, self.lesions[n].full_mask(), lesion_rgb(k)) for k, n in enumerate(self.lesion_names()) if n in self.lesions]
        segments += [(n, self.cement[n].mask, CEMENT_RGB) for n in self.cement_names() if n in self.cement]
        return {"coordinate_system": "LPS", "lesions": lesions, "cement": cement, "segments": segments}
