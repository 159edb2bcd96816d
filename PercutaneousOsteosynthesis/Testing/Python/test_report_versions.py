"""report.json versions: a version-1 report (as the first release wrote it) is read as version 2 with its new keys
"not assessed"; newer versions and malformed files are refused with the file's name."""

from __future__ import annotations

import json

import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.report.json_report import FORMAT_VERSION, read_report

V1 = {"@schema": "https://percutaneous-osteosynthesis.org/schema/report-v1.json", "format_version": 1, "coordinate_system": "LPS",
      "units": "mm", "margin_mm": 1.0,
      "screws": [{"name": "a", "grade": "breach", "min_clearance_mm": -2.5, "entry_lps": [0, 0, 0], "tip_lps": [0, 0, 50]},
                 {"name": "b", "grade": "excellent", "min_clearance_mm": 3.0, "entry_lps": [0, 0, 0], "tip_lps": [0, 0, 50]}],
      "pairs": [], "lesions": [{"name": "l", "volume_ml": 2.0}], "cement": []}


def test_version_1_report_is_upgraded(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(V1))
    rep = read_report(path)
    assert rep["format_version"] == FORMAT_VERSION == 2 and rep["upgraded_from_format_version"] == 1
    a, b = rep["screws"]
    assert (a["perforation_mm"], a["perforation_grade"]) == (2.5, 2)  # 2-4 mm out: grade 2 (Smith/Gras)
    assert (b["perforation_mm"], b["perforation_grade"]) == (0.0, 0)
    assert a["bicortical"] is False and a["head_seat"] is None and a["role"] == "other"
    assert rep["patient_position"] == "supine" and rep["ct_quality"] == {} and rep["lesions"][0]["fracture_risk"] == {}


@pytest.mark.parametrize("text, message", [(json.dumps(dict(V1, format_version=3)), "newer"), ("{not json", "readable JSON"),
                                           (json.dumps(dict(V1, format_version="1")), "integer"), ("[1, 2]", "not a PercutaneousOsteosynthesis report")])
def test_bad_reports_name_the_file(tmp_path, text, message):
    path = tmp_path / "odd.json"
    path.write_text(text)
    with pytest.raises(PosteoInputError, match=message) as err:
        read_report(path)
    assert "odd.json" in str(err.value)
