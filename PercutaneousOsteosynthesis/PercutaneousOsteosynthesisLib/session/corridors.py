"""The session's named corridors: found on its CT and bone model (corridors.find), shown as a table, and accepted
one at a time as a screw of the plan (its line node, model and live checks, like a screw drawn by hand)."""

from __future__ import annotations

from ..errors import PosteoInputError


class Corridors:
    """Mixin of :class:`.planning.PlanningSession`: ``self.corridors`` holds the last :meth:`find_corridors`."""

    def find_corridors(self, sides=("left", "right"), progress=None) -> list:
        """Search every named pathway on the session's bone model (corridors.find.Corridor list, also kept)."""
        from ..corridors.find import find_corridors

        self._require_bone()
        self.corridors = find_corridors(self.bone, self.ct, sides=sides, catalog=self.catalog, margin_mm=self.margin_mm,
                                        progress=progress)
        return self.corridors

    def accept_corridor(self, label: str, observe: bool = True) -> str:
        """Add the screw proposed in the corridor ``label`` (e.g. "left femoral neck", "S1 transsacral") to the plan
        under that name; returns the name.  A triad ("left femoral neck triad") adds its three screws ("left femoral
        neck inferior", ...) and returns the first name."""
        triad = next((c.triad for c in getattr(self, "corridors", []) if c.triad is not None and c.triad.label == label), None)
        if triad is not None:
            return self._accept_triad(triad, observe)
        corridor = next((c for c in getattr(self, "corridors", []) if c.label == label), None)
        if corridor is None:
            raise PosteoInputError(f"corridor '{label}'", "not among the corridors found (call find_corridors first)")
        screw = corridor.screw()  # raises when there is no safe corridor
        self.add_screw(screw.name, screw.entry_lps, screw.tip_lps, screw.implant_id, role=screw.role)
        if screw.bicortical:
            self.set_screw(screw.name, screw)
        if observe:
            self.observe_screw(screw.name)
        return screw.name

    def _accept_triad(self, triad, observe: bool) -> str:
        if not triad.found:
            raise PosteoInputError(f"corridor '{triad.label}'", f"no safe triad: {triad.reason}")
        for screw in triad.screws:
            self.add_screw(screw.name, screw.entry_lps, screw.tip_lps, screw.implant_id, role=screw.role)
            if observe:
                self.observe_screw(screw.name)
        return triad.screws[0].name
