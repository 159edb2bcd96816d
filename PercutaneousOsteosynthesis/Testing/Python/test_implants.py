"""Implant catalog: bundled data, look-ups, user catalogs and their errors, screws from implants."""

import json

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.fileio.resources import resource_path
from PercutaneousOsteosynthesisLib.screws.implants import load_catalog, screw_from_implant, thread_code


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_bundled_file_and_counts(cat):
    data = json.loads(resource_path("Implants", "cannulated_screws.json").read_text())
    assert data["catalog_version"] == 1
    # 6.5/7.0/7.3: lengths 30..180 step 5 = 31; T16: all 31; T32: lengths > 32 -> 35..180 = 30; FT 31
    big = 31 + 30 + 31
    # 4.5: 30..120 = 19 lengths; T16 19, T32 18, FT 19
    small = 19 + 18 + 19
    assert len(cat) == 3 * big + small
    assert cat.diameters() == [4.5, 6.5, 7.0, 7.3]


def test_get_fields(cat):
    imp = cat.get("CS-7.3-T16-090")
    assert (imp.diameter_mm, imp.length_mm, imp.thread_length_mm, imp.cannulated) == (7.3, 90.0, 16.0, True)
    assert imp.head_diameter_mm > imp.diameter_mm
    ft = cat.get("CS-7.0-FT-180")
    assert ft.thread_length_mm is None and ft.thread_code == "FT" and ft.length_mm == 180.0
    assert cat.get("CS-4.5-T32-120").thread_length_mm == 32.0
    assert "CS-4.5-T16-125" not in cat and "CS-6.5-T32-030" not in cat


def test_unknown_id_suggests(cat):
    with pytest.raises(PosteoInputError) as e:
        cat.get("CS-7.3-T16-093")
    assert "CS-7.3-T16-093" in str(e.value)
    assert "CS-7.3-T16-095" in str(e.value) or "CS-7.3-T16-090" in str(e.value)


def test_thread_codes():
    assert thread_code(16) == "T16" and thread_code("t32") == "T32" and thread_code("full") == "FT" and thread_code(None) == "FT"
    with pytest.raises(PosteoInputError):
        thread_code("coarse")


def test_lengths(cat):
    assert cat.lengths(7.0, "FT") == [float(v) for v in range(30, 185, 5)]
    assert cat.lengths(4.5, 16) == [float(v) for v in range(30, 125, 5)]
    assert cat.lengths(6.5, "T32")[0] == 35.0
    with pytest.raises(PosteoInputError):
        cat.lengths(5.0, "FT")


def test_snap_length(cat):
    assert cat.snap_length(7.3, "T16", 94.9).id == "CS-7.3-T16-090"
    assert cat.snap_length(7.3, "T16", 95.0).id == "CS-7.3-T16-095"
    assert cat.snap_length(7.3, "FT", 500).length_mm == 180.0
    with pytest.raises(PosteoInputError) as e:
        cat.snap_length(7.3, "T16", 29.0)
    assert "30" in str(e.value)


def test_find_nearest(cat):
    a = cat.find(7.2, 63)  # 7.3 is 0.1 away (7.0: 0.2); 65 is 2 away (60: 3)
    assert (a.diameter_mm, a.length_mm, a.thread_code) == (7.3, 65.0, "T16")
    b = cat.find(6.9, 62.5, thread="FT")  # tie 60/65: the shorter
    assert b.id == "CS-7.0-FT-060"
    assert cat.find(4.4, 300).id == "CS-4.5-T16-120"
    with pytest.raises(PosteoInputError):
        cat.find(12.0, 80)


def test_default_for(cat):
    assert cat.default_for(7.3).id == "CS-7.3-T16-090"
    assert cat.default_for(4.5).id == "CS-4.5-T16-070"


def _write(path, obj):
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


FAMILY = {"family": "Extra 8", "id_prefix": "XS", "diameter_mm": 8.0, "head_diameter_mm": 13.0,
          "thread_lengths_mm": [None], "lengths_mm": [40, 50]}


def test_user_catalog_merges(tmp_path):
    f = _write(tmp_path / "mine.json", {"catalog_version": 1, "name": "mine", "families": [FAMILY]})
    cat = load_catalog([f])
    assert cat.get("XS-8.0-FT-040").length_mm == 40.0 and "CS-7.3-T16-090" in cat
    only = load_catalog(f, bundled=False)
    assert sorted(only.ids) == ["XS-8.0-FT-040", "XS-8.0-FT-050"]


@pytest.mark.parametrize("content, words", [
    ("{not json", ["JSON"]),
    ({"catalog_version": 1, "name": "x", "families": [{k: v for k, v in FAMILY.items() if k != "diameter_mm"}]}, ["diameter_mm"]),
    ({"name": "x", "families": [FAMILY]}, ["catalog_version"]),
    ({"catalog_version": 2, "name": "x", "families": [FAMILY]}, ["catalog_version 2"]),
    ({"catalog_version": 1, "name": "x", "families": [dict(FAMILY, lengths_mm=[40, -5])]}, ["lengths_mm"]),
    ({"catalog_version": 1, "name": "x", "families": [dict(FAMILY, diameter_mm=0)]}, ["diameter_mm"]),
    ({"catalog_version": 1, "name": "x", "families": [FAMILY, FAMILY]}, ["duplicate", "XS-8.0-FT-040"]),
])
def test_bad_catalogs(tmp_path, content, words):
    f = _write(tmp_path / "bad.json", content)
    with pytest.raises(PosteoInputError) as e:
        load_catalog([f])
    assert "bad.json" in e.value.source
    for w in words:
        assert w in str(e.value)


def test_missing_file_and_duplicate_across_files(tmp_path):
    with pytest.raises(PosteoInputError) as e:
        load_catalog([tmp_path / "nope.json"])
    assert "nope.json" in str(e.value)
    dup = dict(FAMILY, id_prefix="CS", diameter_mm=7.3, lengths_mm=[90], thread_lengths_mm=[16])
    f = _write(tmp_path / "dup.json", {"catalog_version": 1, "name": "d", "families": [dup]})
    with pytest.raises(PosteoInputError) as e:
        load_catalog([f])
    assert "dup.json" in e.value.source and "CS-7.3-T16-090" in str(e.value)


def test_screw_from_implant_snaps(cat):
    u = np.array([3.0, 4.0, 12.0]) / 13.0
    entry = np.array([10.0, -20.0, 5.0])
    s = screw_from_implant("s1", cat.get("CS-7.3-T16-060"), entry, entry + 97.0 * u, catalog=cat, washer=True)
    assert s.implant_id == "CS-7.3-T16-095" and s.washer
    assert s.length_mm == pytest.approx(95.0)
    np.testing.assert_allclose(s.tip_lps, entry + 95.0 * u, atol=1e-9)
    assert s.thread_length_mm == 16.0 and s.diameter_mm == 7.3
    with pytest.raises(PosteoInputError):
        screw_from_implant("s2", cat.get("CS-7.3-T16-060"), entry, entry + 20.0 * u, catalog=cat)


def test_screw_from_implant_no_snap(cat):
    entry = np.zeros(3)
    s = screw_from_implant("s", cat.get("CS-6.5-FT-090"), entry, [0.0, 0.0, 50.0], snap=False)
    np.testing.assert_allclose(s.tip_lps, [0.0, 0.0, 90.0])
    assert s.thread_length_mm is None and s.implant_id == "CS-6.5-FT-090"
