"""The parameter file: the shipped one loads; each class of bad file is refused with the
file, the key and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from forbear.sim.borrowers import ParameterError, load_parameters
from forbear.sim.borrowers.parameters import DEFAULT_PATH, NAMES


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_file_loads_with_every_parameter_sourced() -> None:
    params = load_parameters()
    assert params.version
    assert set(params.values) == set(NAMES)
    for name, (low, high) in params.ranges().items():
        assert low <= params[name] <= high, name
    assert all(s.split(":")[0] in ("published", "assumption") for s in params.sources().values())


def test_with_values_replaces_and_checks() -> None:
    params = load_parameters()
    changed = params.with_values({"complaint.base": 0.002})
    assert changed["complaint.base"] == 0.002
    assert params["complaint.base"] != 0.002  # the original is untouched
    assert changed.version == params.version
    with pytest.raises(ParameterError, match=r"complaint\.base"):
        params.with_values({"complaint.base": 1.5})
    with pytest.raises(ParameterError, match=r"no\.such"):
        params.with_values({"no.such": 0.1})


def test_to_yaml_round_trips(tmp_path: Path) -> None:
    params = load_parameters()
    path = tmp_path / "copy.yaml"
    path.write_text(params.to_yaml(), encoding="utf-8")
    again = load_parameters(path)
    assert dict(again.values) == dict(params.values)
    assert again.sources() == params.sources()


def _mutate(data: dict[str, Any], how: str) -> None:
    p = data["parameters"]
    if how == "missing_source":
        del p["pay.dpd_1_7"]["source"]
    elif how == "empty_source":
        p["pay.dpd_1_7"]["source"] = "  "
    elif how == "unlabelled_source":
        p["pay.dpd_1_7"]["source"] = "someone said so"
    elif how == "probability_above_one":
        p["pay.dpd_1_7"]["value"] = 1.2
        p["pay.dpd_1_7"]["range"] = [0.0, 1.5]
    elif how == "probability_below_zero":
        p["pay.dpd_1_7"]["value"] = -0.1
        p["pay.dpd_1_7"]["range"] = [-0.2, 0.5]
    elif how == "unknown_field":
        p["pay.dpd_1_7"]["comment"] = "x"
    elif how == "unknown_parameter":
        p["pay.dpd_2_9"] = dict(p["pay.dpd_1_7"])
    elif how == "unknown_top_field":
        data["colour"] = "blue"
    elif how == "range_excludes_value":
        p["pay.dpd_1_7"]["range"] = [0.2, 0.3]
    elif how == "missing_parameter":
        del p["pay.dpd_1_7"]
    elif how == "wrong_kind":
        p["pay.dpd_1_7"]["kind"] = "log_odds"
    elif how == "not_a_number":
        p["pay.dpd_1_7"]["value"] = "high"
    elif how == "missing_version":
        del data["version"]


CASES = {
    "missing_source": ("parameters.pay.dpd_1_7.source", "missing"),
    "empty_source": ("parameters.pay.dpd_1_7.source", "missing"),
    "unlabelled_source": ("parameters.pay.dpd_1_7.source", "must start with"),
    "probability_above_one": ("parameters.pay.dpd_1_7.value", "[0, 1]"),
    "probability_below_zero": ("parameters.pay.dpd_1_7.value", "[0, 1]"),
    "unknown_field": ("parameters.pay.dpd_1_7.comment", "unknown field"),
    "unknown_parameter": ("parameters.pay.dpd_2_9", "unknown parameter"),
    "unknown_top_field": ("colour", "unknown field"),
    "range_excludes_value": ("parameters.pay.dpd_1_7.range", "does not contain"),
    "missing_parameter": ("parameters.pay.dpd_1_7", "missing"),
    "wrong_kind": ("parameters.pay.dpd_1_7.kind", "must be probability"),
    "not_a_number": ("parameters.pay.dpd_1_7.value", "not a number"),
    "missing_version": ("version", "missing"),
}


@pytest.mark.parametrize("how", sorted(CASES))
def test_a_bad_file_is_refused_with_file_key_and_reason(tmp_path: Path, how: str) -> None:
    data = _shipped()
    _mutate(data, how)
    path = _write(tmp_path, data)
    with pytest.raises(ParameterError) as caught:
        load_parameters(path)
    key, reason = CASES[how]
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="no such file"):
        load_parameters(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nparameters: {a: [1,\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_parameters(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="mapping"):
        load_parameters(listed)
