"""Plain-text tables of a plan's report.json for the terminal."""

from __future__ import annotations

from ..report import format as fmt
from ..report.format import breakthrough_text, fill_text, fracture_risk_text, leak_text, mirels_text
from ..screws.clearance import EXISTING_IMPLANT


def print_lesion_tables(report: dict):
    for les in report.get("lesions", []):
        print(f"lesion {les['name']}: {les['volume_ml']:.1f} mL, {les['max_diameter_mm']:.0f} mm, {les['type']}, "
              f"{breakthrough_text(les['cortical_breakthrough'])}, Mirels {mirels_text(les.get('mirels'))}"
              + (f", {fracture_risk_text(les['fracture_risk'])}" if les.get("fracture_risk") else ""))
    for c in report.get("cement", []):
        print(f"cement {c['name']}: {c['volume_ml']:.1f} mL; fills {fill_text(c.get('lesion_fill_fraction', {}))}; "
              f"leak risk: {leak_text(c['leak_risk'], with_reasons=True)}")


def print_screw_table(report: dict):
    if not report["screws"]:
        print("no screws in this plan")
        return
    cols = f"{'screw':<28} {'implant':<16} {'length':>7} {'min clear':>10} {'at':>6} {'breach':>7} {'tip out':>7} {'perf':>4}  grade"
    print(cols)
    print("-" * len(cols))
    for s in report["screws"]:
        flags = []
        if s["tip_in_joint"]:
            flags.append("tip in joint")
        if s["joints_crossed"]:
            flags.append(f"crosses {s['joints_crossed']} SI joint" + ("s" if s["joints_crossed"] > 1 else ""))
        nogo = fmt.nogo_text(s["nogo"], *(s.get(k, []) for k in fmt.ENTERED_KINDS)) if s.get("nogo") else ""
        if nogo:
            flags.append(nogo)
        close = s["metal_clearance_mm"] is not None and s["metal_clearance_mm"] < report["margin_mm"]
        if close and EXISTING_IMPLANT not in nogo:  # once: the no-go text may already name the old implant
            flags.append(f"metal {s['metal_clearance_mm']:.1f} mm")
        print(f"{s['name'][:28]:<28} {str(s['implant_id'])[:16]:<16} {s['length_mm']:7.1f} {s['min_clearance_mm']:10.2f} "
              f"{s['min_clearance_at_mm']:6.1f} {s['breach_length_mm']:7.1f} {s['tip_protrusion_mm']:7.1f} {s.get('perforation_grade', '-')!s:>4}  {s['grade']}"
              + (f" ({', '.join(flags)})" if flags else ""))
    for p in report["pairs"]:
        print(f"gap {p['a']} / {p['b']}: {p['min_gap_mm']:.1f} mm")
    for name, sugs in report.get("suggestions", {}).items():
        print(f"suggestions for {name}:")
        if not sugs:
            print("  none: no nearby trajectory stays in bone")
        for x in sugs:
            e, t = x["entry_lps"], x["tip_lps"]
            print(f"  {x['implant_id']:<16} min clear {x['min_clearance_mm']:6.2f} mm ({x['grade']}) "
                  f"entry {e[0]:.1f},{e[1]:.1f},{e[2]:.1f} tip {t[0]:.1f},{t[1]:.1f},{t[2]:.1f}")
    for m in report.get("femoral_neck", []):
        print(f"femoral neck set ({m['side']}): max angle {fmt.number(m.get('max_angle_deg'))} deg, spread "
              f"{fmt.number(m.get('max_distance_mm'), unit='mm')}, tip-apex (mm) {fmt.tip_apex_text(m)}; {fmt.neck_configuration_text(m)}")
    if report.get("fluoroscopy_views"):
        print(f"fluoroscopy: {fmt.fluoroscopy_views_text(report['fluoroscopy_views'])}")
    for w in report.get("warnings", []):
        print(f"warning: {w}")


def print_corridor_table(corridors) -> None:
    """One line per corridor: width, proposed screw, clearance and grade, or why there is no safe corridor."""
    print(f"{'pathway':<28} {'width':>6} {'screw':>12} {'implant':<18} {'clear':>6}  grade")
    for c in corridors:
        if c.found:
            print(f"{c.label:<28} {c.width_mm:6.1f} {c.diameter_mm:5.1f} x {c.length_mm:4.0f} {c.implant_id:<18} "
                  f"{c.min_clearance_mm:6.2f}  {c.grade}")
        else:
            width = "" if c.width_mm is None else f"{c.width_mm:6.1f}"
            print(f"{c.label:<28} {width:>6} no safe corridor: {c.reason}")
        t = c.triad if c.found else None
        if t is not None and t.found:
            lengths = "/".join(f"{s.length_mm:.0f}" for s in t.screws)
            print(f"{t.label:<28} {'':>6} 3 x {t.screws[0].diameter_mm:.1f} x {lengths} mm, {t.spread_mm:.1f} mm apart "
                  f"{t.min_clearance_mm:6.2f}  {t.grade}")
        elif t is not None:
            print(f"{t.label:<28} {'':>6} no safe triad: {t.reason}")
