"""3D Slicer scripted module: planning of percutaneous screw fixation and cementoplasty of the pelvis.

Only the GUI and the MRML glue live here.  All computation is in ``PercutaneousOsteosynthesisLib``
(GUI-free, tested with pytest outside Slicer); the Logic below is a thin adapter that converts
MRML nodes to the Lib's data structures and back, in the scene it is given.
"""

import importlib.util
import inspect
import json
import logging
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated

import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import (
    WithinRange,
    parameterNodeWrapper,
)
from slicer.ScriptedLoadableModule import *  # noqa: F403
from slicer.util import VTKObservationMixin

# Parameters of PercutaneousOsteosynthesisParameterNode that deliberately have no widget in the .ui
# (checked by Testing/Python/test_module_static.py).
NON_GUI_PARAMETERS = ("planFolderItemId", "selectedScrew")

# Widgets of the sections that are not wired to code yet: they stay disabled.  Remove a name from
# this list in the change that connects the widget to working code.
PENDING_WIDGETS = ()
PENDING_TOOLTIP = "available after the bone model is built"

# Widgets of sections 2-6: enabled once the planning session has a bone model.
SESSION_WIDGETS = (
    "implantComboBox", "addScrewButton", "screwTable", "suggestButton", "suggestionList",
    "addLesionButton", "lesionTable",
    "probeSlider", "probeViewButton",
    "addCementButton", "simulateCementButton", "cementTable",
    "exportPlanButton", "importPlanButton", "saveReportButton", "guidanceTable",
)
PAIN_CHOICES = ("", "mild", "moderate", "functional")
SCREW_COLUMNS = ("Name", "Implant", "Length (mm)", "Min clearance (mm)", "Grade", "Skin to tip (mm)", "Gantry tilt (deg)")
LESION_COLUMNS = ("Name", "Volume (mL)", "Type", "Breakthrough", "Mirels", "Pain")
CEMENT_COLUMNS = ("Name", "Volume (mL)", "Lesion fill", "Leak risk")
GUIDANCE_COLUMNS = ("Screw", "Skin entry LPS (mm)", "Skin to bone (mm)", "Skin to tip (mm)", "Gantry tilt (deg)",
                    "Double oblique", "In-plane angle (deg)", "Table position (mm)", "C-arm cranio-caudal (deg)",
                    "C-arm LAO/RAO (deg)")

# Segments of the bone model, by name, toggled by the "Show" check boxes.
SEGMENT_GROUPS = {
    "bone": ("bone", "cancellous", "sacroiliac joint"),
    "cortex": ("cortex",),
    "metal": ("metal",),
}

# Attributes set on the MRML nodes this module creates.
ROLE_ATTRIBUTE = "PercutaneousOsteosynthesis.Role"
VOLUMES_ATTRIBUTE = "PercutaneousOsteosynthesis.VolumesMl"
PLAN_FOLDER_NAME = "Percutaneous osteosynthesis plan"


# Python packages that Slicer does not bundle, installed when first needed (asked, never at import time).
REPORT_REQUIREMENTS = ("matplotlib", "fpdf2")
TEST_REQUIREMENTS = ("pytest", "hypothesis", "jsonschema", "matplotlib", "fpdf2")
IMPORT_NAMES = {"fpdf2": "fpdf"}


def ensurePythonPackages(requirements, reason: str, ask: bool = True) -> bool:
    """Install the missing ``requirements`` into Slicer's Python: with slicer.pydeps.pip_ensure (Slicer 5.11 and
    later), else with slicer.util.pip_install after the user agreed (``ask``).  Returns True when all are present."""
    missing = [r for r in requirements if importlib.util.find_spec(IMPORT_NAMES.get(r, r)) is None]
    if not missing:
        return True
    try:
        import slicer.pydeps
        from packaging.requirements import Requirement

        slicer.pydeps.pip_ensure([Requirement(r) for r in missing], requester="PercutaneousOsteosynthesis")
    except ImportError:
        if ask and not slicer.util.confirmOkCancelDisplay(
                _("{reason} needs the Python packages {names}. Install them now?").format(reason=reason, names=", ".join(missing))):
            return False
        slicer.util.pip_install(missing)
    importlib.invalidate_caches()
    return all(importlib.util.find_spec(IMPORT_NAMES.get(r, r)) is not None for r in requirements)


#
# PercutaneousOsteosynthesis
#


class PercutaneousOsteosynthesis(ScriptedLoadableModule):  # noqa: F405
    """Module description shown in Slicer (uses the ScriptedLoadableModule base class)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)  # noqa: F405
        self.parent.title = _("Percutaneous Osteosynthesis")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Surgical Planning")]
        self.parent.dependencies = []
        self.parent.contributors = ["PercutaneousOsteosynthesis developers"]
        self.parent.helpText = _("""
Planning of percutaneous screw fixation and cementoplasty of the pelvis and proximal femur from a CT.
Select a CT in Hounsfield units (or load the synthetic phantom), check the bone, cortex and metal
thresholds and build the bone model; screws, lesions, the probe's-eye view, cement and the plan
export build on that model.
See the <a href="https://github.com/percutaneous-osteosynthesis/SlicerPercutaneousOsteosynthesis#readme">module documentation</a>.
This is a planning aid for trained interventional radiologists; it is not a certified medical device.
""")
        self.parent.acknowledgementText = _("""
Developed by the PercutaneousOsteosynthesis developers, as an extension of 3D Slicer (https://www.slicer.org).
""")


#
# PercutaneousOsteosynthesisParameterNode
#


@parameterNodeWrapper
class PercutaneousOsteosynthesisParameterNode:
    """
    State of the module, saved with the scene.

    inputVolume - CT in Hounsfield units.
    boneThresholdHU, cortexThresholdHU, metalThresholdHU - thresholds of the bone model (bone < cortex < metal).
    safetyMarginMm - minimum distance to keep between a screw and the outer cortex.
    cementVolumeMl - volume of one cement injection.
    boneSegmentation - segmentation holding the bone model (cortex, cancellous, metal, joint segments).
    planFolderItemId - subject hierarchy folder holding the nodes created by the module (0: none yet).
    implantId - catalog id of the implant used by "Add screw".
    probeDepthPercent - probe's-eye reslice position from the skin entry (0) to the tip (100) of the selected screw.
    selectedScrew - name of the screw selected in the screw table ("" for none).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    boneThresholdHU: Annotated[float, WithinRange(-1024, 3071)] = 200.0
    cortexThresholdHU: Annotated[float, WithinRange(-1024, 3071)] = 600.0
    metalThresholdHU: Annotated[float, WithinRange(-1024, 3071)] = 2500.0
    safetyMarginMm: Annotated[float, WithinRange(0, 10)] = 1.0
    cementVolumeMl: Annotated[float, WithinRange(0.5, 60)] = 5.0
    boneSegmentation: vtkMRMLSegmentationNode
    planFolderItemId: int = 0
    implantId: str = ""
    probeDepthPercent: Annotated[float, WithinRange(0, 100)] = 0.0
    selectedScrew: str = ""


class OperationCancelled(Exception):
    """Raised by a progress callback when the user pressed Cancel."""


#
# PercutaneousOsteosynthesisWidget
#


class PercutaneousOsteosynthesisWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):  # noqa: F405
    """The module panel."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)  # noqa: F405
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._shownSegmentationId = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)  # noqa: F405

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/PercutaneousOsteosynthesis.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = PercutaneousOsteosynthesisLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        # Section 1: CT and bone
        self.ui.loadPhantomButton.connect("clicked(bool)", self.onLoadPhantomButton)
        self.ui.buildBoneModelButton.connect("clicked(bool)", self.onBuildBoneModelButton)
        for checkBox in (self.ui.showBoneCheckBox, self.ui.showCortexCheckBox, self.ui.showMetalCheckBox):
            checkBox.connect("toggled(bool)", self.onSegmentVisibilityToggled)

        # Sections 2-6: the planning session (self.logic.session)
        import qt

        self._placingNode = None
        self._placingKind = None
        self._cementPointLps = None
        self._updatingTables = False
        self.ui.implantComboBox.clear()
        for implantId in self.logic.implantIds():
            self.ui.implantComboBox.addItem(implantId)
        for table, columns in ((self.ui.screwTable, SCREW_COLUMNS), (self.ui.lesionTable, LESION_COLUMNS),
                               (self.ui.cementTable, CEMENT_COLUMNS), (self.ui.guidanceTable, GUIDANCE_COLUMNS)):
            table.setColumnCount(len(columns))
            table.setHorizontalHeaderLabels([_(c) for c in columns])
            table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
            table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
            table.setSelectionMode(qt.QAbstractItemView.SingleSelection)
        self.ui.addScrewButton.connect("clicked(bool)", self.onAddScrewButton)
        self.ui.screwTable.connect("itemSelectionChanged()", self.onScrewSelectionChanged)
        self.ui.suggestButton.connect("clicked(bool)", self.onSuggestButton)
        self.ui.suggestionList.connect("itemDoubleClicked(QListWidgetItem*)", self.onSuggestionAccepted)
        self.ui.addLesionButton.connect("clicked(bool)", self.onAddLesionButton)
        self.ui.probeViewButton.connect("toggled(bool)", self.onProbeView)
        self.ui.probeSlider.connect("valueChanged(double)", self.onProbeView)
        self.ui.addCementButton.connect("clicked(bool)", self.onAddCementButton)
        self.ui.simulateCementButton.connect("clicked(bool)", self.onSimulateCementButton)
        self.ui.exportPlanButton.connect("clicked(bool)", self.onExportPlanButton)
        self.ui.importPlanButton.connect("clicked(bool)", self.onImportPlanButton)
        self.ui.saveReportButton.connect("clicked(bool)", self.onSaveReportButton)
        self.logic.session.update_callbacks.append(self.onScrewMoved)
        for name in PENDING_WIDGETS:
            widget = getattr(self.ui, name)
            widget.setEnabled(False)
            widget.toolTip = _(PENDING_TOOLTIP)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()
        if self.logic is not None and self.onScrewMoved in self.logic.session.update_callbacks:
            self.logic.session.update_callbacks.remove(self.onScrewMoved)

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGuiState)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode and not firstVolumeNode.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGuiState)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # Widgets with a "SlicerParameterName" dynamic property in the .ui are bound to the parameters.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGuiState)
        self._updateGuiState()

    def _updateGuiState(self, caller=None, event=None) -> None:
        parameterNode = self._parameterNode
        haveCt = bool(parameterNode and parameterNode.inputVolume)
        self.ui.buildBoneModelButton.enabled = haveCt
        self.ui.buildBoneModelButton.toolTip = (
            _("Segment bone, cortex, metal and crossable joints of the CT with the thresholds above")
            if haveCt else _("Select a CT volume first."))

        segmentationNode = parameterNode.boneSegmentation if parameterNode else None
        for checkBox in (self.ui.showBoneCheckBox, self.ui.showCortexCheckBox, self.ui.showMetalCheckBox):
            checkBox.enabled = segmentationNode is not None
        self.ui.boneStatusLabel.text = self.logic.boneStatusText(parameterNode) if parameterNode else ""

        segmentationId = segmentationNode.GetID() if segmentationNode else None
        if segmentationId != self._shownSegmentationId:
            self._shownSegmentationId = segmentationId
            self.onSegmentVisibilityToggled()

        haveBone = self.logic.session.bone is not None
        for name in SESSION_WIDGETS:
            getattr(self.ui, name).enabled = haveBone
        haveScrew = haveBone and bool(parameterNode and parameterNode.selectedScrew)
        for widget in (self.ui.suggestButton, self.ui.probeViewButton, self.ui.probeSlider):
            widget.enabled = haveScrew
        self.ui.simulateCementButton.enabled = haveBone and self._cementPointLps is not None
        if parameterNode is not None and haveBone:
            self.logic.session.margin_mm = float(parameterNode.safetyMarginMm)

    def _segmentVisibility(self) -> dict:
        return {
            "bone": self.ui.showBoneCheckBox.checked,
            "cortex": self.ui.showCortexCheckBox.checked,
            "metal": self.ui.showMetalCheckBox.checked,
        }

    def onSegmentVisibilityToggled(self, checked=None) -> None:
        if self._parameterNode and self._parameterNode.boneSegmentation:
            self.logic.setSegmentGroupVisibility(self._parameterNode.boneSegmentation, self._segmentVisibility())

    def _progressCallback(self, title):
        """A modal progress dialog and the ``progress(fraction, message)`` callback that drives it."""
        import qt

        dialog = slicer.util.createProgressDialog(
            parent=slicer.util.mainWindow(), value=0, maximum=100, labelText=title, windowTitle=title,
            autoClose=False, autoReset=False)
        dialog.setCancelButtonText(_("Cancel"))

        def progress(fraction, message=""):
            dialog.value = int(round(100 * min(max(float(fraction), 0.0), 1.0)))
            if message:
                dialog.labelText = f"{title}: {message}"
            qt.QApplication.processEvents()
            if dialog.wasCanceled:
                raise OperationCancelled()

        return dialog, progress

    def onLoadPhantomButton(self) -> None:
        dialog, progress = self._progressCallback(_("Creating phantom CT"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Failed to create the phantom CT."), waitCursor=True):
                try:
                    volumeNode = self.logic.loadPhantom(self._parameterNode, progress=progress)
                except OperationCancelled:
                    return
                self._showCt(volumeNode)
        finally:
            dialog.close()

    def onBuildBoneModelButton(self) -> None:
        dialog, progress = self._progressCallback(_("Building bone model"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Failed to build the bone model."), waitCursor=True):
                try:
                    segmentationNode = self.logic.buildBoneModel(self._parameterNode, progress=progress)
                except OperationCancelled:
                    return
                progress(1.0, _("creating 3D surfaces"))
                segmentationNode.CreateClosedSurfaceRepresentation()
                self.onSegmentVisibilityToggled()
        finally:
            dialog.close()
        self._updateGuiState()
        self.updateTables()

    # Sections 2-6

    def _startPlacing(self, kind: str, className: str, name: str) -> None:
        """Place a markup with the mouse (markups place mode); _onPointPlaced finishes the job."""
        self._stopPlacing()
        node = slicer.mrmlScene.AddNewNodeByClass(className, slicer.mrmlScene.GenerateUniqueName(name))
        node.CreateDefaultDisplayNodes()
        self._placingNode, self._placingKind = node, kind
        self.addObserver(node, slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._onPointPlaced)
        selectionNode = slicer.mrmlScene.GetNodeByID("vtkMRMLSelectionNodeSingleton")
        selectionNode.SetReferenceActivePlaceNodeClassName(className)
        selectionNode.SetActivePlaceNodeID(node.GetID())
        slicer.modules.markups.logic().StartPlaceMode(False)

    def _stopPlacing(self, keepNode: bool = False) -> None:
        node = self._placingNode
        if node is None:
            return
        self.removeObserver(node, slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._onPointPlaced)
        self._placingNode = None
        interactionNode = slicer.app.applicationLogic().GetInteractionNode()
        interactionNode.SwitchToViewTransformMode()
        if not keepNode and node.GetScene() is not None:
            slicer.mrmlScene.RemoveNode(node)

    def _onPointPlaced(self, caller, event) -> None:
        node, kind = self._placingNode, self._placingKind
        if node is None:
            return
        import numpy as np

        if kind == "screw":
            if node.GetNumberOfDefinedControlPoints() < 2:
                return
            self._stopPlacing(keepNode=True)
            with slicer.util.tryWithErrorDisplay(_("Failed to add the screw."), waitCursor=True):
                try:
                    name = self.logic.addScrewFromLine(node, self._parameterNode.implantId or None)
                except Exception:
                    slicer.mrmlScene.RemoveNode(node)
                    raise
                self._parameterNode.selectedScrew = name
            self.updateTables()
            return
        pointRas = np.array(node.GetNthControlPointPositionWorld(0), float)
        self._stopPlacing()
        pointLps = pointRas * [-1.0, -1.0, 1.0]
        if kind == "lesion":
            with slicer.util.tryWithErrorDisplay(_("Failed to segment the lesion."), waitCursor=True):
                self.logic.session.add_lesion(self.logic.uniqueName("Lesion", self.logic.session.lesion_names()), pointLps)
        elif kind == "cement":
            self._cementPointLps = pointLps
        self.updateTables()
        self._updateGuiState()

    def onAddScrewButton(self) -> None:
        self._startPlacing("screw", "vtkMRMLMarkupsLineNode", "Screw")

    def onAddLesionButton(self) -> None:
        self._startPlacing("lesion", "vtkMRMLMarkupsFiducialNode", "Lesion seed")

    def onAddCementButton(self) -> None:
        self._startPlacing("cement", "vtkMRMLMarkupsFiducialNode", "Cement injection point")

    def onSimulateCementButton(self) -> None:
        if self._cementPointLps is None:
            return
        session = self.logic.session
        with slicer.util.tryWithErrorDisplay(_("Failed to simulate the cement."), waitCursor=True):
            session.add_cement(self.logic.uniqueName("Cement", session.cement_names()), self._cementPointLps,
                               float(self._parameterNode.cementVolumeMl))
            self._cementPointLps = None
        self.updateTables()
        self._updateGuiState()

    def onScrewMoved(self, name) -> None:
        """Live update of a dragged screw: refresh its row."""
        self.updateScrewTable()
        if self.ui.probeViewButton.checked and self._parameterNode and name == self._parameterNode.selectedScrew:
            self.onProbeView()

    def onScrewSelectionChanged(self) -> None:
        if self._updatingTables or not self._parameterNode:
            return
        rows = {index.row() for index in self.ui.screwTable.selectedIndexes()}
        if not rows:
            return
        name = self.ui.screwTable.item(min(rows), 0).text()
        self._parameterNode.selectedScrew = name
        self.ui.suggestionList.clear()
        self.logic.centreViewsOnScrew(name)
        if self.ui.probeViewButton.checked:
            self.onProbeView()

    def onSuggestButton(self) -> None:
        name = self._parameterNode.selectedScrew
        self.ui.suggestionList.clear()
        with slicer.util.tryWithErrorDisplay(_("Failed to suggest trajectories."), waitCursor=True):
            found = self.logic.session.suggest(name)
            for i, s in enumerate(found):
                self.ui.suggestionList.addItem(
                    f"{i + 1}. {s['grade']}, min clearance {s['min_clearance_mm']:.1f} mm, {s['implant_id']}, "
                    f"entry moved {s['entry_shift_mm']:.1f} mm, angle {s['angle_deg']:.1f} deg")
            if not found:
                self.ui.suggestionList.addItem(_("No trajectory near this screw stays in bone."))

    def onSuggestionAccepted(self, item) -> None:
        row = self.ui.suggestionList.row(item)
        name = self._parameterNode.selectedScrew
        if row < len(self.logic.session.suggestions.get(name, [])):
            with slicer.util.tryWithErrorDisplay(_("Failed to accept the suggestion."), waitCursor=True):
                self.logic.session.accept_suggestion(name, row)
            self.updateTables()

    def onProbeView(self, *args) -> None:
        if not self._parameterNode or not self._parameterNode.selectedScrew or not self.ui.probeViewButton.checked:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to set the probe's-eye view."), waitCursor=False):
            self.logic.setProbeView(self._parameterNode.selectedScrew, float(self._parameterNode.probeDepthPercent) / 100.0)

    def _pickFolder(self, title: str):
        import qt

        folder = qt.QFileDialog.getExistingDirectory(slicer.util.mainWindow(), title)
        return folder or None

    def onExportPlanButton(self) -> None:
        folder = self._pickFolder(_("Export the plan to a folder"))
        if not folder or not ensurePythonPackages(REPORT_REQUIREMENTS, _("The plan report")):
            return
        dialog, progress = self._progressCallback(_("Exporting the plan"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Failed to export the plan."), waitCursor=True):
                try:
                    files = self.logic.session.export(folder, progress=progress)
                except OperationCancelled:
                    return
                slicer.util.infoDisplay(_("Plan written to {folder}:\n{files}").format(
                    folder=folder, files="\n".join(str(p) for p in files.values())))
        finally:
            dialog.close()

    def onImportPlanButton(self) -> None:
        import qt

        path = qt.QFileDialog.getOpenFileName(slicer.util.mainWindow(), _("Import a plan"), "",
                                              _("Slicer markups (*.mrk.json);;All files (*)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to import the plan."), waitCursor=True):
            for name in self.logic.session.import_plan(path):
                self.logic.session.observe_screw(name)
        self.updateTables()

    def onSaveReportButton(self) -> None:
        folder = self._pickFolder(_("Save the report (report.json, report.html) to a folder"))
        if not folder or not ensurePythonPackages(REPORT_REQUIREMENTS, _("The plan report")):
            return
        dialog, progress = self._progressCallback(_("Writing the report"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Failed to write the report."), waitCursor=True):
                try:
                    self.logic.saveReport(folder, progress=progress)
                except OperationCancelled:
                    return
        finally:
            dialog.close()

    def updateTables(self) -> None:
        self.updateScrewTable()
        self.updateLesionTable()
        self.updateCementTable()
        self.updateGuidanceTable()

    @staticmethod
    def _setRow(table, row: int, values) -> None:
        import qt

        for column, value in enumerate(values):
            item = qt.QTableWidgetItem("" if value is None else str(value))
            table.setItem(row, column, item)

    def updateScrewTable(self) -> None:
        import qt

        table = self.ui.screwTable
        rows = self.logic.screwRows()
        self._updatingTables = True
        try:
            table.setRowCount(len(rows))
            selected = self._parameterNode.selectedScrew if self._parameterNode else ""
            for r, row in enumerate(rows):
                self._setRow(table, r, row["cells"])
                colour = row["colour"]
                table.item(r, 4).setBackground(qt.QBrush(qt.QColor.fromRgbF(*colour)))
                if row["cells"][0] == selected:
                    table.selectRow(r)
        finally:
            self._updatingTables = False

    def updateLesionTable(self) -> None:
        import qt

        table = self.ui.lesionTable
        rows = self.logic.lesionRows()
        table.setRowCount(len(rows))
        for r, (cells, pain) in enumerate(rows):
            self._setRow(table, r, cells)
            combo = qt.QComboBox()
            for choice in PAIN_CHOICES:
                combo.addItem(choice)
            combo.setCurrentText(pain or "")
            combo.connect("currentTextChanged(QString)", lambda text, name=cells[0]: self.onPainChanged(name, text))
            table.setCellWidget(r, len(LESION_COLUMNS) - 1, combo)

    def onPainChanged(self, name: str, pain: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to set the pain level."), waitCursor=True):
            self.logic.session.set_lesion_pain(name, pain or None)
        self.updateLesionTable()

    def updateCementTable(self) -> None:
        rows = self.logic.cementRows()
        self.ui.cementTable.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            self._setRow(self.ui.cementTable, r, cells)

    def updateGuidanceTable(self) -> None:
        rows = self.logic.guidanceRows()
        self.ui.guidanceTable.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            self._setRow(self.ui.guidanceTable, r, cells)

    @staticmethod
    def _showCt(volumeNode) -> None:
        """Show the CT in the slice views with a bone window."""
        displayNode = volumeNode.GetDisplayNode()
        if displayNode is None:
            volumeNode.CreateDefaultDisplayNodes()
            displayNode = volumeNode.GetDisplayNode()
        if displayNode is not None:
            displayNode.SetAutoWindowLevel(False)
            displayNode.SetWindowLevel(1800, 400)
        slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)


#
# PercutaneousOsteosynthesisLogic
#


class PercutaneousOsteosynthesisLogic(ScriptedLoadableModuleLogic):  # noqa: F405
    """MRML adapter around ``PercutaneousOsteosynthesisLib``; usable without the widget.

    ``scene``: the vtkMRMLScene to work in (default: Slicer's scene).  The Lib itself never uses
    Slicer's application singletons: the scene is always passed to it.
    """

    def __init__(self, scene=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)  # noqa: F405
        self._scene = scene
        self.boneModel = None  # last BoneModel built (the Lib object, with its distance field)
        self.phantomTruth = None  # truth dictionary of the last phantom loaded
        self._session = None

    @property
    def scene(self):
        return self._scene if self._scene is not None else slicer.mrmlScene

    @property
    def session(self):
        """The PlanningSession (Lib) of the scene: screws, lesions, cement and the plan live in its MRML nodes."""
        if self._session is None or self._session.scene is not self.scene:
            from PercutaneousOsteosynthesisLib.session.planning import PlanningSession

            self._session = PlanningSession(self.scene, folder_name=PLAN_FOLDER_NAME)
        return self._session

    # Parameter node

    def createParameterNode(self):
        node = self.scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)  # the Python variable owns the node now
        node.SetSingletonTag(self.moduleName)
        node.SetAttribute("ModuleName", self.moduleName)
        node.SetName(self.scene.GenerateUniqueName(self.moduleName))
        return node

    def getParameterNode(self) -> PercutaneousOsteosynthesisParameterNode:
        node = self.scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = self.scene.AddNode(self.createParameterNode())
        elif node.GetAttribute("ModuleName") != self.moduleName:
            node.SetAttribute("ModuleName", self.moduleName)  # may be lost when the scene is closed
        return PercutaneousOsteosynthesisParameterNode(node)

    # Subject hierarchy

    def planFolderItemId(self, parameterNode) -> int:
        """The subject hierarchy folder holding the module's nodes (created on first use)."""
        session = self.session
        itemId = int(parameterNode.planFolderItemId)
        if itemId and not session._folder:
            session._folder = itemId  # the folder of a saved scene: the session validates it
        itemId = int(session.folder_item_id)
        if int(parameterNode.planFolderItemId) != itemId:
            parameterNode.planFolderItemId = itemId
        return itemId

    def _addToPlanFolder(self, parameterNode, node, role: str) -> None:
        node.SetAttribute(ROLE_ATTRIBUTE, role)
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        shNode.SetItemParent(shNode.GetItemByDataNode(node), self.planFolderItemId(parameterNode))

    # Section 1: CT and bone

    def loadPhantom(self, parameterNode=None, progress=None, name: str = "PelvisPhantom"):
        """Render the synthetic pelvis CT phantom into a new scalar volume node and select it as input."""
        from PercutaneousOsteosynthesisLib.fileio.nodes import volume_node_from_ct
        from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

        ct, truth = make_phantom(progress=progress)
        volumeNode = volume_node_from_ct(ct, self.scene, name=name)
        self.phantomTruth = truth
        self.session.ct, self.session.ct_node, self.session.truth, self.session.bone = ct, volumeNode, truth, None
        if parameterNode is not None:
            self._addToPlanFolder(parameterNode, volumeNode, "phantomCt")
            parameterNode.inputVolume = volumeNode
        return volumeNode

    def boneParameters(self, parameterNode):
        from PercutaneousOsteosynthesisLib.bone.model import BoneParameters

        return BoneParameters(
            bone_threshold_hu=float(parameterNode.boneThresholdHU),
            cortex_threshold_hu=float(parameterNode.cortexThresholdHU),
            metal_threshold_hu=float(parameterNode.metalThresholdHU),
        )

    def buildBoneModel(self, parameterNode, progress=None):
        """Build the bone model of ``parameterNode.inputVolume``; returns the bone segmentation node.

        A segmentation previously built by this module for the parameter node is replaced.
        """
        volumeNode = parameterNode.inputVolume
        if volumeNode is None:
            raise ValueError(_("Select a CT volume first."))

        from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
        from PercutaneousOsteosynthesisLib.bone.outputs import segmentation_node_from_bone_model
        from PercutaneousOsteosynthesisLib.fileio.nodes import ct_volume_from_node

        params = self.boneParameters(parameterNode)
        params.validate()
        ct = ct_volume_from_node(volumeNode)
        model = build_bone_model(ct, params, progress=progress)

        previous = parameterNode.boneSegmentation
        segmentationNode = segmentation_node_from_bone_model(model, self.scene, name=f"{volumeNode.GetName()} bone model")
        if segmentationNode.GetDisplayNode() is None:
            segmentationNode.CreateDefaultDisplayNodes()
        segmentationNode.SetAttribute(VOLUMES_ATTRIBUTE, json.dumps(model.volumes_ml(), sort_keys=True))
        self._addToPlanFolder(parameterNode, segmentationNode, "boneModel")
        parameterNode.boneSegmentation = segmentationNode
        if previous is not None and previous is not segmentationNode and previous.GetAttribute(ROLE_ATTRIBUTE) == "boneModel":
            self.scene.RemoveNode(previous)
        self.boneModel = model
        session = self.session
        session.ct, session.ct_node = ct, volumeNode
        session.margin_mm = float(parameterNode.safetyMarginMm)
        session.set_bone_model(model, segmentationNode)
        return segmentationNode

    # Sections 2-6 (through the planning session)

    @staticmethod
    def implantIds() -> list:
        from PercutaneousOsteosynthesisLib.screws.implants import default_catalog

        return default_catalog().ids()

    @staticmethod
    def uniqueName(base: str, existing) -> str:
        existing = set(existing)
        n = 1
        while f"{base} {n}" in existing:
            n += 1
        return f"{base} {n}"

    def addScrewFromLine(self, lineNode, implantId=None) -> str:
        """Turn a line placed in the views (RAS) into a screw of the session, observed for live feedback."""
        import numpy as np

        session = self.session
        entryLps = np.array(lineNode.GetNthControlPointPositionWorld(0)) * [-1.0, -1.0, 1.0]
        tipLps = np.array(lineNode.GetNthControlPointPositionWorld(1)) * [-1.0, -1.0, 1.0]
        name = self.uniqueName("Screw", session.screw_names())
        session.add_screw(name, entryLps, tipLps, implantId, line_node=lineNode)
        session.observe_screw(name)
        return name

    def screwRows(self) -> list:
        """Screw table rows: cells (name, implant, length, min clearance, grade, skin-to-tip, gantry tilt) and grade colour."""
        from PercutaneousOsteosynthesisLib.errors import PosteoInputError
        from PercutaneousOsteosynthesisLib.palette import grade_rgb

        session = self.session
        rows = []
        for name in session.screw_names():
            screw = session.screw(name)
            node = session.line_node(name)
            grade = session.grade(name)
            clearance = node.GetAttribute("PercutaneousOsteosynthesis.MinClearanceMm")
            try:
                guidance = session.guidance(name)
                depth, tilt = f"{guidance['skin_to_tip_mm']:.1f}", f"{guidance['gantry_tilt_deg']:.1f}"
            except PosteoInputError:
                depth = tilt = ""
            rows.append({"cells": [name, screw.implant_id or "", f"{screw.length_mm:.1f}",
                                   f"{float(clearance):.1f}" if clearance else "", grade, depth, tilt],
                         "colour": grade_rgb(grade if grade else "invalid")})
        return rows

    def lesionRows(self) -> list:
        """Lesion table rows: (cells, pain); Mirels shows the total or why it does not apply."""
        rows = []
        for name in self.session.lesion_names():
            if name not in self.session.lesions:
                continue
            info = self.session.lesion_info(name)
            mirels = info["mirels"]
            mirelsText = str(mirels["total"]) if mirels.get("score", True) is not None and "total" in mirels else (mirels.get("reason") or "")
            rows.append(([name, f"{info['volume_ml']:.2f}", info["type"], "yes" if info["cortical_breakthrough"] else "no",
                          mirelsText, ""], info["pain"]))
        return rows

    def cementRows(self) -> list:
        rows = []
        for name in self.session.cement_names():
            result = self.session.cement.get(name)
            if result is None:
                continue
            fill = ", ".join(f"{k} {100 * v:.0f} %" for k, v in result.lesion_fill_fraction.items())
            risk = result.leak_risk
            riskText = ("at risk: " + ", ".join(f"{r['kind']} {r['distance_mm']:.1f} mm" for r in risk["reasons"])
                        if risk.get("at_risk") else "low")
            rows.append([name, f"{result.volume_ml:.2f}", fill, riskText])
        return rows

    def guidanceRows(self) -> list:
        from PercutaneousOsteosynthesisLib.errors import PosteoInputError

        rows = []
        for name in self.session.screw_names():
            try:
                g = self.session.guidance(name)
            except PosteoInputError as exc:
                rows.append([name, str(exc)] + [""] * (len(GUIDANCE_COLUMNS) - 2))
                continue
            rows.append([name, ", ".join(f"{v:.1f}" for v in g["skin_entry_lps"]), f"{g['skin_to_bone_entry_mm']:.1f}",
                         f"{g['skin_to_tip_mm']:.1f}", f"{g['gantry_tilt_deg']:.1f}", "yes" if g["double_oblique"] else "no",
                         f"{g['inplane_angle_deg']:.1f}", f"{g['table_position_mm']:.1f}",
                         f"{g['carm_cranio_caudal_deg']:.1f}", f"{g['carm_lao_rao_deg']:.1f}"])
        return rows

    def centreViewsOnScrew(self, name: str) -> None:
        """Jump the slice views to the screw's mid-point (RAS)."""
        entryLps, tipLps = self.session.screw_points_lps(name)
        mid = 0.5 * (entryLps + tipLps) * [-1.0, -1.0, 1.0]
        slicer.modules.markups.logic().JumpSlicesToLocation(float(mid[0]), float(mid[1]), float(mid[2]), True)

    def setProbeView(self, name: str, fraction: float) -> None:
        """Red view perpendicular to the screw at ``fraction`` from the skin entry to the tip; Yellow along its axis."""
        import numpy as np

        normal, transverse, point = self.session.probe_plane_ras(name, fraction)
        red = self.scene.GetNodeByID("vtkMRMLSliceNodeRed")
        if red is not None:
            red.SetSliceToRASByNTP(*normal, *transverse, *point, 0)
        yellow = self.scene.GetNodeByID("vtkMRMLSliceNodeYellow")
        if yellow is not None:
            alongNormal = np.cross(normal, transverse)
            yellow.SetSliceToRASByNTP(*alongNormal, *normal, *point, 0)

    def saveReport(self, folder, progress=None) -> list:
        """Write report.json (and report.html when available) of the session to ``folder``; returns the paths."""
        import shutil

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        with tempfile.TemporaryDirectory(prefix="posteo-report-") as tmp:
            files = self.session.export(tmp, progress=progress)
            for key in ("report", "html"):
                if key in files:
                    target = out / files[key].name
                    shutil.copyfile(files[key], target)
                    written.append(target)
        return written

    @staticmethod
    def segmentIdsByName(segmentationNode) -> dict:
        segmentation = segmentationNode.GetSegmentation()
        ids = {}
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            ids[segmentation.GetSegment(segmentId).GetName().lower()] = segmentId
        return ids

    def setSegmentGroupVisibility(self, segmentationNode, visibility: dict) -> None:
        """Show or hide the segment groups of SEGMENT_GROUPS, e.g. ``{"bone": True, "metal": False}``."""
        displayNode = segmentationNode.GetDisplayNode()
        if displayNode is None:
            return
        ids = self.segmentIdsByName(segmentationNode)
        for group, shown in visibility.items():
            for segmentName in SEGMENT_GROUPS[group]:
                if segmentName in ids:
                    displayNode.SetSegmentVisibility(ids[segmentName], bool(shown))

    def boneStatusText(self, parameterNode) -> str:
        segmentationNode = parameterNode.boneSegmentation
        if segmentationNode is None:
            if parameterNode.inputVolume is None:
                return _("No CT selected: select a CT volume or load the sample phantom.")
            return _("No bone model yet: check the thresholds and click 'Build bone model'.")
        volumesText = segmentationNode.GetAttribute(VOLUMES_ATTRIBUTE)
        if volumesText:
            try:
                volumes = json.loads(volumesText)
            except ValueError:
                volumes = None
            if isinstance(volumes, dict):
                parts = [f"{name.replace('_', ' ')} {value:.1f} mL" for name, value in sorted(volumes.items())
                         if isinstance(value, (int, float))]
                return _("Bone model '{name}': {volumes}.").format(name=segmentationNode.GetName(), volumes=", ".join(parts))
        count = segmentationNode.GetSegmentation().GetNumberOfSegments()
        return _("Bone model '{name}': {count} segments.").format(name=segmentationNode.GetName(), count=count)


#
# Running the pytest test functions inside Slicer
#


def _moduleFixtures(namespace) -> dict:
    """name -> (function, scope) of the pytest fixtures defined in a module namespace (parametrized ones left out)."""
    fixtures = {}
    for attributeName, obj in namespace.items():
        marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
        if marker is None or getattr(marker, "params", None):
            continue
        if hasattr(obj, "_get_wrapped_function"):
            function = obj._get_wrapped_function()
        else:
            function = getattr(obj, "__wrapped__", obj)
        fixtures[getattr(marker, "name", None) or attributeName] = (function, marker.scope)
    return fixtures


class _MissingFixture(Exception):
    """A test asks for a fixture the in-Slicer runner does not provide."""


class _FixtureResolver:
    """Minimal stand-in for pytest's fixture machinery: ``tmp_path`` and plain (optionally yielding) fixtures
    from conftest.py and the test module.  Fixtures of a scope wider than "function" are built once per run."""

    def __init__(self, tempRoot, sharedFixtures):
        self.tempRoot = tempRoot
        self.sharedFixtures = sharedFixtures
        self.sharedCache = {}
        self.sharedTeardowns = []

    def arguments(self, function, case, moduleFixtures, functionCache, functionTeardowns):
        """Keyword arguments for ``function`` (parametrize ``case`` first); _MissingFixture for an unknown fixture."""
        values = {}
        for name, parameter in inspect.signature(function).parameters.items():
            if name in case:
                values[name] = case[name]
            elif parameter.default is inspect.Parameter.empty:
                values[name] = self.value(name, moduleFixtures, functionCache, functionTeardowns)
        return values

    def value(self, name, moduleFixtures, functionCache, functionTeardowns):
        if name == "tmp_path":
            return Path(tempfile.mkdtemp(dir=self.tempRoot))
        fixtures = dict(self.sharedFixtures, **moduleFixtures)
        if name not in fixtures:
            raise _MissingFixture(name)
        function, scope = fixtures[name]
        cache, teardowns = (functionCache, functionTeardowns) if scope == "function" else (self.sharedCache, self.sharedTeardowns)
        key = (name, id(function))
        if key not in cache:
            kwargs = self.arguments(function, {}, moduleFixtures, functionCache, functionTeardowns)
            if inspect.isgeneratorfunction(function):
                generator = function(**kwargs)
                cache[key] = next(generator)
                teardowns.append(generator)
            else:
                cache[key] = function(**kwargs)
        return cache[key]

    @staticmethod
    def teardown(generators) -> None:
        while generators:
            generator = generators.pop()
            try:
                next(generator)
            except StopIteration:
                pass


def _marks(function):
    return list(getattr(function, "pytestmark", []))


def _parametrizations(function):
    """Keyword-argument sets of the @pytest.mark.parametrize marks (cartesian product of stacked marks)."""
    cases = [{}]
    for mark in _marks(function):
        if mark.name != "parametrize":
            continue
        argnames, argvalues = mark.args[0], mark.args[1]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        rows = []
        for value in argvalues:
            value = getattr(value, "values", value)  # pytest.param(...)
            values = (value,) if len(names) == 1 and not (isinstance(value, tuple) and len(value) == 1) else tuple(value)
            rows.append(dict(zip(names, values)))
        cases = [dict(c, **r) for c in cases for r in rows]
    return cases


def _skipped(function) -> bool:
    for mark in _marks(function):
        if mark.name == "skip":
            return True
        if mark.name == "skipif" and mark.args and all(bool(a) for a in mark.args if not isinstance(a, str)):
            return True
    return False


def _loadModule(path, moduleName):
    spec = importlib.util.spec_from_file_location(moduleName, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[moduleName] = module
    spec.loader.exec_module(module)
    return module


def runTestFunctions(directory, pattern="test_*.py"):
    """Import the pytest modules of ``directory`` and call their test functions and test-class methods.

    Supported: fixtures of conftest.py and of the test module (no ``request``, no parametrized or autouse
    fixtures), ``tmp_path``, ``parametrize``/``skip``/``skipif`` marks and ``pytest.skip``; a test needing
    anything else is reported as skipped.  Returns ``(passed, failed, skipped)``: lists of test ids,
    ``failed`` holding ``(id, traceback text)``.
    """
    try:
        import pytest

        skipException = pytest.skip.Exception
    except ImportError:
        skipException = None
    passed, failed, skipped = [], [], []

    def record(testId, exc):
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        if skipException is not None and isinstance(exc, skipException):
            skipped.append(testId)
        elif isinstance(exc, _MissingFixture):
            skipped.append(f"{testId} (needs fixture {exc.args[0]!r})")
        else:
            failed.append((testId, traceback.format_exc()))

    directory = Path(directory)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    sharedFixtures = {}
    if (directory / "conftest.py").is_file():
        try:
            sharedFixtures = _moduleFixtures(vars(_loadModule(directory / "conftest.py", "_posteo_selftest_conftest")))
        except BaseException as exc:  # noqa: BLE001  (pytest's outcomes are BaseExceptions)
            record("conftest.py", exc)
    with tempfile.TemporaryDirectory(prefix="posteo-test-") as tempRoot:
        resolver = _FixtureResolver(tempRoot, sharedFixtures)
        try:
            for path in sorted(directory.glob(pattern)):
                moduleName = f"_posteo_selftest_{path.stem}"
                try:
                    module = _loadModule(path, moduleName)
                except BaseException as exc:  # noqa: BLE001
                    record(path.name, exc)
                    continue
                moduleFixtures = _moduleFixtures(vars(module))
                tests = []
                for name, obj in vars(module).items():
                    if name.startswith("test") and inspect.isfunction(obj) and obj.__module__ == moduleName:
                        tests.append((f"{path.name}::{name}", obj))
                    elif name.startswith("Test") and inspect.isclass(obj) and obj.__module__ == moduleName:
                        for methodName, method in vars(obj).items():
                            if methodName.startswith("test") and inspect.isfunction(method):
                                tests.append((f"{path.name}::{name}::{methodName}", getattr(obj(), methodName)))
                for testId, function in tests:
                    if _skipped(function):
                        skipped.append(testId)
                        continue
                    for caseIndex, case in enumerate(_parametrizations(function)):
                        caseId = f"{testId}[{caseIndex}]" if case else testId
                        functionCache, functionTeardowns = {}, []
                        try:
                            function(**resolver.arguments(function, case, moduleFixtures, functionCache, functionTeardowns))
                            resolver.teardown(functionTeardowns)
                        except BaseException as exc:  # noqa: BLE001
                            record(caseId, exc)
                            resolver.teardown(functionTeardowns)
                        else:
                            passed.append(caseId)
        finally:
            resolver.teardown(resolver.sharedTeardowns)
    return passed, failed, skipped


#
# PercutaneousOsteosynthesisTest
#


class PercutaneousOsteosynthesisTest(ScriptedLoadableModuleTest):  # noqa: F405
    """Self-test: the Lib's pytest test bodies, then a walkthrough of the module panel."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_LibTestFunctions()
        self.setUp()
        self.test_ThresholdValidation()
        self.setUp()
        self.test_PhantomWalkthrough()

    def test_LibTestFunctions(self):
        """Run the pytest test bodies of Testing/Python (available when running from the source tree)."""
        testDirectory = Path(__file__).resolve().parent / "Testing" / "Python"
        if not testDirectory.is_dir():
            logging.info(f"No test directory {testDirectory}: pytest test bodies not run")
            return
        self.assertTrue(ensurePythonPackages(TEST_REQUIREMENTS, "The self-test", ask=False))
        self.delayDisplay(f"Running the test functions of {testDirectory}")
        passed, failed, skipped = runTestFunctions(testDirectory)
        logging.info(f"Test functions: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
        for testId in skipped:
            logging.info(f"skipped: {testId}")
        if failed:
            self.fail("\n\n".join(f"FAILED {testId}\n{text}" for testId, text in failed))
        self.assertGreater(len(passed), 0)

    def test_ThresholdValidation(self):
        logic = PercutaneousOsteosynthesisLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.cortexThresholdHU = 100.0  # below the bone threshold
        with self.assertRaises(ValueError):
            logic.boneParameters(parameterNode).validate()
        with self.assertRaises(ValueError):
            logic.buildBoneModel(parameterNode)  # no CT

    def test_PhantomWalkthrough(self):
        """Load the phantom and build the bone model through the module panel, as a user would."""
        slicer.util.selectModule("PercutaneousOsteosynthesis")
        widget = slicer.modules.percutaneousosteosynthesis.widgetRepresentation().self()
        parameterNode = widget.logic.getParameterNode()
        self.assertFalse(widget.ui.buildBoneModelButton.enabled)
        for name in PENDING_WIDGETS:
            self.assertFalse(getattr(widget.ui, name).enabled, name)

        self.delayDisplay("Loading the phantom")
        widget.ui.loadPhantomButton.click()
        volumeNode = parameterNode.inputVolume
        self.assertIsNotNone(volumeNode)
        self.assertTrue(widget.ui.buildBoneModelButton.enabled)
        low, high = volumeNode.GetImageData().GetScalarRange()
        self.assertLess(low, -500)
        self.assertGreater(high, 1000)

        self.delayDisplay("Building the bone model")
        self.assertEqual(parameterNode.boneThresholdHU, 200.0)
        widget.ui.buildBoneModelButton.click()
        segmentationNode = parameterNode.boneSegmentation
        self.assertIsNotNone(segmentationNode)
        names = set(widget.logic.segmentIdsByName(segmentationNode))
        self.assertTrue({"cortex", "cancellous"} <= names, names)
        volumes = widget.logic.boneModel.volumes_ml()
        self.assertGreater(volumes["cortex"], 1.0)
        self.assertGreater(volumes["cancellous"], volumes["cortex"] * 0.1)
        self.assertIn("cortex", widget.ui.boneStatusLabel.text)
        self.assertTrue(widget.ui.showCortexCheckBox.enabled)

        widget.ui.showCortexCheckBox.checked = False
        displayNode = segmentationNode.GetDisplayNode()
        self.assertFalse(displayNode.GetSegmentVisibility(widget.logic.segmentIdsByName(segmentationNode)["cortex"]))
        widget.ui.showCortexCheckBox.checked = True

        # Rebuilding replaces the previous bone model instead of piling up segmentations.
        widget.ui.buildBoneModelButton.click()
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"), 1)
        self.assertTrue(widget.ui.addScrewButton.enabled)
        self._planningWalkthrough(widget, parameterNode)
        self.delayDisplay("Test passed")

    def _planningWalkthrough(self, widget, parameterNode):
        """Lesion -> screw -> drag an endpoint -> grade changes -> cement -> export -> import, with the session API
        that Testing/Python/test_session.py exercises (truth: the phantom's analytic screw paths and lesions)."""
        import numpy as np

        session = widget.logic.session
        truth = widget.logic.phantomTruth
        self.assertIs(session.bone, widget.logic.boneModel)

        self.delayDisplay("Segmenting a lesion")
        lesionTruth = truth["lesions"][0]
        info = session.add_lesion("Lesion 1", lesionTruth["center_lps"], pain="moderate")
        self.assertAlmostEqual(info["volume_ml"], lesionTruth["volume_ml"], delta=0.15 * lesionTruth["volume_ml"])
        widget.updateTables()
        self.assertEqual(widget.ui.lesionTable.rowCount, 1)

        self.delayDisplay("Adding a screw on the safe femoral-neck path")
        path = next(p for p in truth["screw_paths"] if p["name"].startswith("left femoral neck"))
        entry, tip = np.array(path["entry_lps"]), np.array(path["tip_lps"])
        line = session.add_screw("Screw 1", entry, tip)
        session.observe_screw("Screw 1")
        parameterNode.selectedScrew = "Screw 1"
        widget.updateTables()
        self.assertEqual(widget.ui.screwTable.rowCount, 1)
        self.assertEqual(widget.ui.screwTable.item(0, 4).text(), "excellent")
        self.assertTrue(np.allclose(line.GetNthControlPointPositionWorld(1), tip * [-1, -1, 1]))

        self.delayDisplay("Dragging the tip into the hip joint")
        far = tip + 40.0 * (tip - entry) / np.linalg.norm(tip - entry)
        line.SetNthControlPointPositionWorld(1, *(far * [-1, -1, 1]))
        line.InvokeEvent(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)
        session.flush()
        self.assertEqual(session.grade("Screw 1"), "breach")
        self.assertEqual(widget.ui.screwTable.item(0, 4).text(), "breach")
        red = session.model_colour("Screw 1")
        self.assertGreater(red[0], red[1])
        line.SetNthControlPointPositionWorld(1, *(tip * [-1, -1, 1]))
        line.InvokeEvent(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)
        session.flush()
        self.assertEqual(session.grade("Screw 1"), "excellent")

        self.delayDisplay("Probe's-eye view")
        widget.ui.probeViewButton.checked = True
        parameterNode.probeDepthPercent = 100.0
        widget.onProbeView()
        normal = np.array([slicer.mrmlScene.GetNodeByID("vtkMRMLSliceNodeRed").GetSliceToRAS().GetElement(r, 2) for r in range(3)])
        axis = (tip - entry) * [-1, -1, 1] / np.linalg.norm(tip - entry)
        self.assertAlmostEqual(abs(float(normal @ axis)), 1.0, places=6)
        widget.ui.probeViewButton.checked = False

        self.delayDisplay("Simulating cement")
        cement = session.add_cement("Cement 1", lesionTruth["center_lps"], 2.0)
        self.assertAlmostEqual(cement["volume_ml"], 2.0, delta=0.05)
        widget.updateTables()
        self.assertEqual(widget.ui.cementTable.rowCount, 1)
        self.assertEqual(widget.ui.guidanceTable.rowCount, 1)

        self.delayDisplay("Exporting and importing the plan")
        with tempfile.TemporaryDirectory(prefix="posteo-selftest-") as folder:
            files = session.export(folder)
            self.assertTrue(files["plan"].is_file() and files["report"].is_file())
            report = json.loads(files["report"].read_text(encoding="utf-8"))
            self.assertEqual([s["grade"] for s in report["screws"]], ["excellent"])
            session.remove_screw("Screw 1")
            self.assertEqual(session.screw_names(), [])
            from PercutaneousOsteosynthesisLib.plan.markups import load_plan

            screwOnly = Path(folder) / "screws-only.mrk.json"
            plan = load_plan(files["plan"])
            plan.lesions, plan.cement = [], []
            from PercutaneousOsteosynthesisLib.plan.markups import save_plan

            save_plan(plan, screwOnly)
            names = session.import_plan(screwOnly)
        self.assertEqual(names, ["Screw 1"])
        importedEntry, importedTip = session.screw_points_lps("Screw 1")
        self.assertTrue(np.allclose(importedEntry, entry, atol=1e-4) and np.allclose(importedTip, tip, atol=1e-4))
        self.assertEqual(session.grade("Screw 1"), "excellent")
        widget.updateTables()
        self.assertEqual(widget.ui.screwTable.rowCount, 1)
