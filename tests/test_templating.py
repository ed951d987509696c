"""Number formatting on pages never fails, whatever JSON value an agent stored."""
import pytest

from vectorflow.templating import compact, duration, filesizeformat, numbers

HOSTILE = [None, True, "12", [1], {"a": 1}, float("nan"), float("inf"), -float("inf"),
           10**400, -(10**400)]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_value_no_page_can_show_is_a_dash(value):
    assert filesizeformat(value) == filesizeformat(value, True) == "—"
    assert compact(value) == "—"
    assert duration(value) == "—"


def test_numbers_are_formatted_as_before():
    assert filesizeformat(98234, True) == "95.9 KiB" and filesizeformat(0) == "0 Bytes"
    assert compact(950) == "950" and compact(1200) == "1.2k" and compact(4_500_000) == "4.5M"
    assert duration(3725) == "1h 2m" and duration(59.9) == "59s" and duration(90061) == "1d 1h"
    assert filesizeformat(2**200, True).endswith("YiB")  # huge, but a float: still shown


def test_numbers_keeps_only_finite_numbers():
    stored = {"a": 1, "b": 2.5, "c": 10**400, "d": "3", "e": True, "f": float("nan"), "g": None}
    assert numbers(stored) == {"a": 1.0, "b": 2.5}
    assert numbers(None) == {} and numbers([1, 2]) == {}
