"""GUI-free core of the PercutaneousOsteosynthesis 3D Slicer extension.

Coordinate conventions (see README): files and every ``*_lps`` name are in LPS millimetres
(x to patient Left, y to Posterior, z to Superior), as Slicer writes markups JSON.  Slicer's
scene is RAS; functions that take or return RAS say so in their name (``*_ras``).

This package never imports qt, ctk or slicer.util and never touches the Slicer application
singletons; MRML scenes are passed in as arguments.
"""

__version__ = "0.1.0"
