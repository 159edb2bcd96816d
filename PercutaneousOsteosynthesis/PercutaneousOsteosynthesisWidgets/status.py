"""The panel's status texts (translated), read from the parameter node and the planning session."""

from slicer.i18n import tr as _

from PercutaneousOsteosynthesisLib.bone.contrast import contrast_note


def boneStatusText(parameterNode, session) -> str:
    """What the bone-model section shows: no CT, no bone model, a model from a saved scene, or the model's volumes
    and the CT-quality message."""
    segmentationNode = parameterNode.boneSegmentation
    if segmentationNode is None:
        if parameterNode.inputVolume is None:
            return _("No CT selected: select a CT volume or load the sample phantom.")
        return _("No bone model yet: check the thresholds and click 'Build bone model'.")
    if session.bone is None or session.bone_node is not segmentationNode:
        return _("Bone model '{name}' (from a saved scene): build it again to plan on it.").format(name=segmentationNode.GetName())
    volumes = ", ".join(f"{k} {v:.1f} mL" for k, v in sorted(session.bone.volumes_ml().items()))
    quality = session.bone.ct_quality.get("message", "")
    if session.bone.contrast_ml > 0:
        quality = "\n".join(filter(None, [quality, contrast_note(session.bone.contrast_ml)]))
    return _("Bone model '{name}': {volumes}.").format(name=segmentationNode.GetName(), volumes=volumes) + (f"\n{quality}" if quality else "")
