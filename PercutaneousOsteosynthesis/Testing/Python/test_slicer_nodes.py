"""CT and bone model in a real vtkMRMLScene: the node's RAS geometry matches the LPS truth."""

import numpy as np

from PercutaneousOsteosynthesisLib.fileio.nodes import ct_volume_from_node, volume_node_from_ct
from PercutaneousOsteosynthesisLib.fileio.scene import prepare_scene
from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom


def test_volume_node_roundtrip_keeps_lps_geometry():
    ct, truth = make_phantom(spacing=4.0, direction="oblique")
    scene = prepare_scene()
    node = volume_node_from_ct(ct, scene, "phantom")
    # a voxel's RAS position in Slicer = its LPS position with x and y negated
    import vtk

    mat = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(mat)
    ijk = np.array([3.0, 5.0, 7.0])
    ras = np.array(mat.MultiplyPoint([*ijk, 1.0])[:3])
    lps = ct.geometry.ijk_to_lps(ijk)
    assert np.allclose(ras, lps * [-1, -1, 1], atol=1e-9)
    back = ct_volume_from_node(node)
    assert np.array_equal(back.array, ct.array)
    assert np.allclose(back.geometry.ijk_to_lps_matrix(), ct.geometry.ijk_to_lps_matrix(), atol=1e-9)
