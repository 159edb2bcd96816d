"""Qt/Slicer helpers of the module's panel (progress dialog, optional Python packages, table filling).

Unlike ``PercutaneousOsteosynthesisLib`` this package needs Slicer's GUI; it holds no planning logic.
"""
