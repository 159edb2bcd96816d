"""3D Slicer scripted module: planning of percutaneous screw fixation and cementoplasty of the pelvis.

Only the GUI and the MRML glue live here.  All computation is in ``PercutaneousOsteosynthesisLib``
(GUI-free, tested with pytest outside Slicer); the Logic below is a thin adapter that converts
MRML nodes to the Lib's data structures and back, in the scene it is given.
"""

import json
import logging
import tempfile
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

from PercutaneousOsteosynthesisWidgets.dependencies import REPORT_REQUIREMENTS, TEST_REQUIREMENTS, ensurePythonPackages
from PercutaneousOsteosynthesisWidgets.dialogs import pickFolder, pickPlanFile
from PercutaneousOsteosynthesisWidgets.progress import ProgressDialog
from PercutaneousOsteosynthesisWidgets.status import boneStatusText
from PercutaneousOsteosynthesisWidgets.tables import fillGradedTable, fillTable, painCombo, setupTable
from PercutaneousOsteosynthesisWidgets.views import jumpSlicesToLps, setSegmentGroupVisibility, showCt

# Parameters of PercutaneousOsteosynthesisParameterNode that deliberately have no widget in the .ui
# (checked by Testing/Python/test_module_static.py).
NON_GUI_PARAMETERS = ("planFolderItemId", "selectedScrew")

# Widgets of sections 2-6: enabled once the planning session has a bone model.
SESSION_WIDGETS = (
    "implantComboBox", "roleComboBox", "addScrewButton", "screwTable", "suggestButton", "suggestionList",
    "findCorridorsButton", "corridorTable",
    "addLesionButton", "lesionTable",
    "probeSlider", "probeViewButton",
    "addCementButton", "simulateCementButton", "cementTable",
    "exportPlanButton", "importPlanButton", "saveReportButton", "guidanceTable",
)


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
    screwRole - role (pathway) of new screws and of the selected screw: decides e.g. the femoral-neck metrics.
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
    screwRole: str = "other"
    probeDepthPercent: Annotated[float, WithinRange(0, 100)] = 0.0
    selectedScrew: str = ""


#
# PercutaneousOsteosynthesisWidget
#


class PercutaneousOsteosynthesisWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):  # noqa: F405
    """The module panel: binds the .ui to the parameter node and forwards user actions to the Logic."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)  # noqa: F405
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._shownSegmentationId = None
        self._placingNode = self._placingKind = self._cementPointLps = None
        self._updatingTables = False

    def setup(self) -> None:
        from PercutaneousOsteosynthesisLib.screws.roles import ROLES
        from PercutaneousOsteosynthesisLib.session import tables

        ScriptedLoadableModuleWidget.setup(self)  # noqa: F405
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/PercutaneousOsteosynthesis.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = PercutaneousOsteosynthesisLogic()
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.implantComboBox.clear()
        self.ui.implantComboBox.addItems(self.logic.implantIds())
        self.ui.roleComboBox.clear()
        self.ui.roleComboBox.addItems(list(ROLES))
        for table, columns in ((self.ui.screwTable, tables.SCREW_COLUMNS), (self.ui.lesionTable, tables.LESION_COLUMNS),
                               (self.ui.cementTable, tables.CEMENT_COLUMNS), (self.ui.guidanceTable, tables.GUIDANCE_COLUMNS),
                               (self.ui.corridorTable, tables.CORRIDOR_COLUMNS)):
            setupTable(table, columns)
        for button, slot in ((self.ui.loadPhantomButton, self.onLoadPhantomButton), (self.ui.buildBoneModelButton, self.onBuildBoneModelButton),
                             (self.ui.addScrewButton, lambda: self._startPlacing("screw", "vtkMRMLMarkupsLineNode", "Screw")),
                             (self.ui.addLesionButton, lambda: self._startPlacing("lesion", "vtkMRMLMarkupsFiducialNode", "Lesion seed")),
                             (self.ui.addCementButton, lambda: self._startPlacing("cement", "vtkMRMLMarkupsFiducialNode", "Cement point")),
                             (self.ui.simulateCementButton, self.onSimulateCementButton), (self.ui.suggestButton, self.onSuggestButton),
                             (self.ui.findCorridorsButton, self.onFindCorridorsButton),
                             (self.ui.exportPlanButton, self.onExportPlanButton), (self.ui.importPlanButton, self.onImportPlanButton),
                             (self.ui.saveReportButton, self.onSaveReportButton)):
            button.connect("clicked(bool)", lambda checked=False, slot=slot: slot())
        for checkBox in (self.ui.showBoneCheckBox, self.ui.showCortexCheckBox, self.ui.showMetalCheckBox):
            checkBox.connect("toggled(bool)", self.onSegmentVisibilityToggled)
        self.ui.roleComboBox.connect("currentTextChanged(QString)", self.onRoleChanged)
        self.ui.safetyMarginSpinBox.connect("valueChanged(double)", self.onMarginChanged)
        self.ui.screwTable.connect("itemSelectionChanged()", self.onScrewSelectionChanged)
        self.ui.suggestionList.connect("itemDoubleClicked(QListWidgetItem*)", self.onSuggestionAccepted)
        self.ui.corridorTable.connect("cellDoubleClicked(int,int)", self.onCorridorAccepted)
        self.ui.probeViewButton.connect("toggled(bool)", self.onProbeView)
        self.ui.probeSlider.connect("valueChanged(double)", self.onProbeView)
        self.logic.session.update_callbacks.append(self.onScrewMoved)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()
        if self.logic is not None and self.onScrewMoved in self.logic.session.update_callbacks:
            self.logic.session.update_callbacks.remove(self.onScrewMoved)

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

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
        """Enable widgets from the parameter node and the session (reads the model, never changes it)."""
        parameterNode = self._parameterNode
        haveCt = bool(parameterNode and parameterNode.inputVolume)
        self.ui.buildBoneModelButton.enabled = haveCt
        self.ui.buildBoneModelButton.toolTip = (_("Segment bone, cortex, metal and crossable joints of the CT with the thresholds above")
                                                if haveCt else _("Select a CT volume first."))
        segmentationNode = parameterNode.boneSegmentation if parameterNode else None
        for checkBox in (self.ui.showBoneCheckBox, self.ui.showCortexCheckBox, self.ui.showMetalCheckBox):
            checkBox.enabled = segmentationNode is not None
        self.ui.boneStatusLabel.text = boneStatusText(parameterNode, self.logic.session) if parameterNode else ""
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

    def onSegmentVisibilityToggled(self, checked=None) -> None:
        if self._parameterNode and self._parameterNode.boneSegmentation:
            visibility = {"bone": self.ui.showBoneCheckBox.checked, "cortex": self.ui.showCortexCheckBox.checked,
                          "metal": self.ui.showMetalCheckBox.checked}
            setSegmentGroupVisibility(self._parameterNode.boneSegmentation, visibility)

    def _run(self, failure: str, work, title: str | None = None):
        """Run ``work(progress)`` with an error display (and a progress dialog with Cancel when ``title``)."""
        with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
            if title is None:
                return work(None)
            with ProgressDialog(title) as progress:
                return work(progress)

    def onLoadPhantomButton(self) -> None:
        volumeNode = self._run(_("Failed to create the phantom CT."), lambda p: self.logic.loadPhantom(self._parameterNode, p),
                               _("Creating phantom CT"))
        if volumeNode is not None:
            showCt(volumeNode)

    def onBuildBoneModelButton(self) -> None:
        node = self._run(_("Failed to build the bone model."), lambda p: self.logic.buildBoneModel(self._parameterNode, p),
                         _("Building bone model"))
        if node is not None:
            node.CreateClosedSurfaceRepresentation()
            self.onSegmentVisibilityToggled()
        self._updateGuiState()
        self.updateTables()

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
        node, self._placingNode = self._placingNode, None
        if node is None:
            return
        self.removeObserver(node, slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._onPointPlaced)
        slicer.app.applicationLogic().GetInteractionNode().SwitchToViewTransformMode()
        if not keepNode and node.GetScene() is not None:
            slicer.mrmlScene.RemoveNode(node)

    def _onPointPlaced(self, caller, event) -> None:
        node, kind = self._placingNode, self._placingKind
        if node is None or (kind == "screw" and node.GetNumberOfDefinedControlPoints() < 2):
            return
        if kind == "screw":
            self._stopPlacing(keepNode=True)
            name = self._run(_("Failed to add the screw."), lambda p: self.logic.session.add_screw_from_line(
                node, self._parameterNode.implantId or None, self._parameterNode.screwRole))
            if name is None and node.GetScene() is not None:
                slicer.mrmlScene.RemoveNode(node)
            elif name is not None:
                self._parameterNode.selectedScrew = name
        else:
            from PercutaneousOsteosynthesisLib.session.screw_nodes import control_point_lps

            pointLps = control_point_lps(node, 0)
            self._stopPlacing()
            if kind == "lesion":
                self._run(_("Failed to segment the lesion."), lambda p: self.logic.session.add_lesion(None, pointLps))
            else:
                self._cementPointLps = pointLps
        self.updateTables()
        self._updateGuiState()

    def onSimulateCementButton(self) -> None:
        if self._cementPointLps is not None:
            self._run(_("Failed to simulate the cement."), lambda p: self.logic.session.add_cement(
                None, self._cementPointLps, float(self._parameterNode.cementVolumeMl)))
            self._cementPointLps = None
        self.updateTables()
        self._updateGuiState()

    def onMarginChanged(self, value: float) -> None:
        if self.logic.session.bone is not None:
            self._run(_("Failed to set the margin."), lambda p: setattr(self.logic.session, "margin_mm", value))
            self.updateTables()

    def onRoleChanged(self, role: str) -> None:
        name = self._parameterNode.selectedScrew if self._parameterNode else ""
        if not self._updatingTables and name and name in self.logic.session.screw_names() and self.logic.session.screw(name).role != role:
            self._run(_("Failed to set the screw role."), lambda p: self.logic.session.set_role(name, role))
            self.updateTables()

    def onScrewMoved(self, name) -> None:
        """Live update of a dragged screw: refresh its row (and the probe's-eye view of the selected screw)."""
        self.updateScrewTable()
        if self.ui.probeViewButton.checked and self._parameterNode and name == self._parameterNode.selectedScrew:
            self.onProbeView()

    def onScrewSelectionChanged(self) -> None:
        rows = {index.row() for index in self.ui.screwTable.selectedIndexes()}
        if self._updatingTables or not self._parameterNode or not rows:
            return
        name = self.ui.screwTable.item(min(rows), 0).text()
        self._parameterNode.selectedScrew = name
        self._parameterNode.screwRole = self.logic.session.screw(name).role
        self.ui.suggestionList.clear()
        entryLps, tipLps = self.logic.session.screw_points_lps(name)
        jumpSlicesToLps(0.5 * (entryLps + tipLps))
        self.onProbeView()

    def onSuggestButton(self) -> None:
        self.ui.suggestionList.clear()
        found = self._run(_("Failed to suggest trajectories."), lambda p: self.logic.session.suggest(self._parameterNode.selectedScrew)) or []
        for i, s in enumerate(found):
            self.ui.suggestionList.addItem(f"{i + 1}. {s['grade']}, min clearance {s['min_clearance_mm']:.1f} mm, {s['implant_id']}, "
                                           f"entry moved {s['entry_shift_mm']:.1f} mm, angle {s['angle_deg']:.1f} deg")
        if not found:
            self.ui.suggestionList.addItem(_("No trajectory near this screw stays in bone."))

    def onSuggestionAccepted(self, item) -> None:
        name, row = self._parameterNode.selectedScrew, self.ui.suggestionList.row(item)
        if row < len(self.logic.session.suggestions.get(name, [])):
            self._run(_("Failed to accept the suggestion."), lambda p: self.logic.session.accept_suggestion(name, row))
            self.updateTables()

    def onFindCorridorsButton(self) -> None:
        from PercutaneousOsteosynthesisLib.session import tables

        self._run(_("Failed to find the corridors."), lambda p: self.logic.session.find_corridors(progress=p), _("Finding corridors"))
        fillGradedTable(self.ui.corridorTable, tables.corridor_rows(self.logic.session), tables.CORRIDOR_COLUMNS.index("Grade"))

    def onCorridorAccepted(self, row: int, column: int) -> None:
        label = self.ui.corridorTable.item(row, 0).text()
        self._run(_("Failed to add the corridor's screw."), lambda p: self.logic.session.accept_corridor(label))
        self.updateTables()

    def onProbeView(self, *args) -> None:
        if self._parameterNode and self._parameterNode.selectedScrew and self.ui.probeViewButton.checked:
            self._run(_("Failed to set the probe's-eye view."), lambda p: self.logic.session.show_probe_view(
                self._parameterNode.selectedScrew, float(self._parameterNode.probeDepthPercent) / 100.0))

    def onExportPlanButton(self) -> None:
        folder = pickFolder(_("Export the plan to a folder"))
        if folder and ensurePythonPackages(REPORT_REQUIREMENTS, _("The plan report")):
            files = self._run(_("Failed to export the plan."), lambda p: self.logic.session.export(folder, progress=p), _("Exporting the plan"))
            if files:
                slicer.util.infoDisplay(_("Plan written to {folder}:\n{files}").format(folder=folder, files="\n".join(map(str, files.values()))))

    def onImportPlanButton(self) -> None:
        path = pickPlanFile()
        if path:
            self._run(_("Failed to import the plan."), lambda p: self.logic.session.import_plan(path, observe=True))
            self.updateTables()

    def onSaveReportButton(self) -> None:
        folder = pickFolder(_("Save the report (report.json, report.html) to a folder"))
        if folder and ensurePythonPackages(REPORT_REQUIREMENTS, _("The plan report")):
            self._run(_("Failed to write the report."), lambda p: self.logic.session.export_report(folder, progress=p), _("Writing the report"))

    def updateTables(self) -> None:
        from PercutaneousOsteosynthesisLib.session import tables

        session = self.logic.session
        self.updateScrewTable()
        lesionRows = tables.lesion_rows(session)
        fillTable(self.ui.lesionTable, [row["cells"] + [""] for row in lesionRows])
        for r, row in enumerate(lesionRows):
            onChanged = lambda text, name=row["cells"][0]: self.onPainChanged(name, text)  # noqa: E731
            self.ui.lesionTable.setCellWidget(r, len(tables.LESION_COLUMNS) - 1, painCombo(row["pain"], onChanged))
        fillTable(self.ui.cementTable, tables.cement_rows(session))
        fillTable(self.ui.guidanceTable, tables.guidance_rows(session))

    def updateScrewTable(self) -> None:
        from PercutaneousOsteosynthesisLib.session import tables

        rows = tables.screw_rows(self.logic.session)
        selected = self._parameterNode.selectedScrew if self._parameterNode else ""
        self._updatingTables = True
        try:
            fillGradedTable(self.ui.screwTable, rows, tables.SCREW_GRADE_COLUMN)
            for r, row in enumerate(rows):
                if row["cells"][0] == selected:
                    self.ui.screwTable.selectRow(r)
        finally:
            self._updatingTables = False

    def onPainChanged(self, name: str, pain: str) -> None:
        self._run(_("Failed to set the pain level."), lambda p: self.logic.session.set_lesion_pain(name, pain or None))
        self.updateTables()


#
# PercutaneousOsteosynthesisLogic
#


class PercutaneousOsteosynthesisLogic(ScriptedLoadableModuleLogic):  # noqa: F405
    """MRML adapter around ``PercutaneousOsteosynthesisLib``; usable without the widget.

    ``scene``: the vtkMRMLScene to work in (default: Slicer's scene).  The plan itself lives in the Lib's ``PlanningSession``
    (MRML nodes under one subject-hierarchy folder); the Logic only maps the parameter node and the views onto it.
    """

    def __init__(self, scene=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)  # noqa: F405
        self._scene = scene
        self._session = None

    @property
    def scene(self):
        return self._scene if self._scene is not None else slicer.mrmlScene

    @property
    def session(self):
        """The PlanningSession (Lib) of the scene: screws, lesions, cement and the plan live in its MRML nodes."""
        if self._session is None or self._session.scene is not self.scene:
            from PercutaneousOsteosynthesisLib.session import PlanningSession

            self._session = PlanningSession(self.scene)
        return self._session

    def getParameterNode(self) -> PercutaneousOsteosynthesisParameterNode:
        """The module's singleton parameter node in ``self.scene`` (the base class would use Slicer's scene)."""
        node = self.scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = self.scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
            node.UnRegister(None)  # the Python variable owns the node now
            node.SetSingletonTag(self.moduleName)
            node.SetName(self.scene.GenerateUniqueName(self.moduleName))
            node = self.scene.AddNode(node)
        node.SetAttribute("ModuleName", self.moduleName)  # may be lost when the scene is closed
        return PercutaneousOsteosynthesisParameterNode(node)

    def _syncFolder(self, parameterNode) -> None:
        """The session uses the folder of a saved scene; the parameter node remembers the session's folder."""
        itemId = self.session.adopt_folder(int(parameterNode.planFolderItemId))
        if int(parameterNode.planFolderItemId) != itemId:
            parameterNode.planFolderItemId = itemId

    # Section 1: CT and bone

    def loadPhantom(self, parameterNode=None, progress=None):
        """Render the synthetic pelvis CT phantom into a new volume node of the plan folder and select it as input."""
        if parameterNode is not None:
            self._syncFolder(parameterNode)
        volumeNode = self.session.load_phantom(progress=progress)
        if parameterNode is not None:
            parameterNode.inputVolume = volumeNode
        return volumeNode

    def boneParameters(self, parameterNode):
        from PercutaneousOsteosynthesisLib.bone.model import BoneParameters

        return BoneParameters(bone_threshold_hu=float(parameterNode.boneThresholdHU), cortex_threshold_hu=float(parameterNode.cortexThresholdHU),
                              metal_threshold_hu=float(parameterNode.metalThresholdHU))

    def buildBoneModel(self, parameterNode, progress=None):
        """Build the bone model of ``parameterNode.inputVolume`` (replacing the previous one); returns its segmentation."""
        volumeNode = parameterNode.inputVolume
        if volumeNode is None:
            raise ValueError(_("Select a CT volume first."))
        params = self.boneParameters(parameterNode)
        params.validate()
        self._syncFolder(parameterNode)
        session = self.session
        if session.ct_node is not volumeNode or session.ct is None:
            session.set_ct(volumeNode)
        session.margin_mm = float(parameterNode.safetyMarginMm)
        session.build_bone_model(params, progress=progress)
        parameterNode.boneSegmentation = session.bone_node
        return session.bone_node

    # Sections 2-6 (through the planning session)

    @staticmethod
    def implantIds() -> list:
        from PercutaneousOsteosynthesisLib.screws.implants import default_catalog

        return default_catalog().ids()


#
# PercutaneousOsteosynthesisTest
#


class PercutaneousOsteosynthesisTest(ScriptedLoadableModuleTest):  # noqa: F405
    """Self-test: the project's pytest suite (Testing/Python) in Slicer's Python, then a walkthrough of the panel."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_PytestSuite()
        self.setUp()
        self.test_ThresholdValidation()
        self.setUp()
        self.test_PhantomWalkthrough()

    def test_PytestSuite(self):
        """Run Testing/Python with pytest (installed on first use) inside Slicer: the same tests as CI."""
        testDirectory = Path(__file__).resolve().parent / "Testing" / "Python"
        if not testDirectory.is_dir():
            logging.info(f"No test directory {testDirectory} (an installed extension): pytest suite not run")
            return
        self.assertTrue(ensurePythonPackages(TEST_REQUIREMENTS, "The self-test", ask=False))
        import pytest

        self.delayDisplay(f"Running pytest on {testDirectory}")
        code = pytest.main([str(testDirectory), "-q", "-p", "no:cacheprovider", "-x"])
        self.assertEqual(int(code), 0, f"pytest exit code {int(code)} (see the Python console)")

    def test_ThresholdValidation(self):
        logic = PercutaneousOsteosynthesisLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.cortexThresholdHU = 100.0  # below the bone threshold
        with self.assertRaises(ValueError):
            logic.boneParameters(parameterNode).validate()
        with self.assertRaises(ValueError):
            logic.buildBoneModel(parameterNode)  # no CT

    def test_PhantomWalkthrough(self):
        """Phantom -> bone model -> screw -> drag into a breach -> role -> export, through the panel, as a user would
        (truth: the phantom's analytic screw paths)."""
        import numpy as np

        slicer.util.selectModule("PercutaneousOsteosynthesis")
        widget = slicer.modules.percutaneousosteosynthesis.widgetRepresentation().self()
        parameterNode = widget.logic.getParameterNode()
        self.assertFalse(widget.ui.buildBoneModelButton.enabled)
        widget.ui.loadPhantomButton.click()
        self.assertIsNotNone(parameterNode.inputVolume)
        widget.ui.buildBoneModelButton.click()
        segmentationNode = parameterNode.boneSegmentation
        self.assertIn("cortex", widget.ui.boneStatusLabel.text)
        widget.ui.buildBoneModelButton.click()  # rebuilding replaces the bone model
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"), 1)
        self.assertIsNot(parameterNode.boneSegmentation, segmentationNode)

        session = widget.logic.session
        truth = session.truth
        path = next(p for p in truth["screw_paths"] if p["name"].startswith("left femoral neck"))
        entry, tip = np.array(path["entry_lps"]), np.array(path["tip_lps"])
        line = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode")
        for point in (entry, tip):
            line.AddControlPoint(vtk.vtkVector3d(*(point * [-1, -1, 1])))
        parameterNode.screwRole = "femoral neck"
        name = session.add_screw_from_line(line, None, parameterNode.screwRole)
        parameterNode.selectedScrew = name
        widget.updateTables()
        self.assertEqual(widget.ui.screwTable.item(0, 5).text(), "excellent")
        self.assertEqual(session.screw(name).role, "femoral neck")

        far = tip + 40.0 * (tip - entry) / np.linalg.norm(tip - entry)  # into the hip joint
        line.SetNthControlPointPositionWorld(1, *(far * [-1, -1, 1]))
        line.InvokeEvent(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)
        session.flush()
        self.assertEqual(widget.ui.screwTable.item(0, 5).text(), "breach")

        widget.ui.probeViewButton.checked = True
        parameterNode.probeDepthPercent = 100.0
        widget.onProbeView()
        normal = np.array([slicer.mrmlScene.GetNodeByID("vtkMRMLSliceNodeRed").GetSliceToRAS().GetElement(r, 2) for r in range(3)])
        self.assertAlmostEqual(abs(float(normal @ ((far - entry) * [-1, -1, 1] / np.linalg.norm(far - entry)))), 1.0, places=6)
        with tempfile.TemporaryDirectory(prefix="posteo-selftest-") as folder:
            files = session.export(folder)
            report = json.loads(files["report"].read_text(encoding="utf-8"))
        self.assertEqual([(s["grade"], s["role"]) for s in report["screws"]], [("breach", "femoral neck")])
        self.delayDisplay("Test passed")
