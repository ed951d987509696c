"""Hypothesis strategies for the fuzz suite: hostile JSON, and bodies shaped by the served
OpenAPI document (valid ones, then with one value replaced by something hostile)."""
from __future__ import annotations

import string
from datetime import datetime, timezone

from hypothesis import strategies as st

from vectorflow.api.openapi import document

# What attackers send: NUL, lone surrogates, blanks, direction marks, long and odd text.
HOSTILE_TEXT = st.sampled_from([
    "\x00", "a\x00b", "\ud800", "x\udfff", "", " ", "\t\n", "\u202e", "é" * 120, "x" * 2100,
    "0" * 5000, "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "null", "[]",
    "../../etc/passwd", "%00", "maintenance", "ADMIN", "RUNNING", "true",
])
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 2**31, -1, 0, 1e300, -0.0]),
    st.integers(), st.floats(),  # floats include NaN and the infinities
)
TEXT = st.one_of(st.text(max_size=20), HOSTILE_TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(TEXT, inner, max_size=3)),
                    max_leaves=8)
WORDS = string.ascii_letters + string.digits + "-_. "


def from_schema(schema: dict, defs: dict | None = None) -> st.SearchStrategy:
    """Return a strategy for JSON that satisfies ``schema`` (the subset our models use);
    references are to the served document's components."""
    defs = defs if defs is not None else document()["components"]["schemas"]
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs))
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        if not properties:
            values = schema.get("additionalProperties")
            inner = from_schema(values, defs) if isinstance(values, dict) else SCALARS
            return st.dictionaries(st.text(WORDS, min_size=1, max_size=10), inner, max_size=3)
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {key: from_schema(sub, defs) for key, sub in properties.items() if key in required},
            optional={key: from_schema(sub, defs) for key, sub in properties.items()
                      if key not in required})
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(from_schema(schema.get("items", {}), defs), min_size=low,
                        max_size=max(low, min(schema.get("maxItems", 3), 3)))
    if kind == "string":
        if schema.get("format") == "date-time":
            return st.datetimes(datetime(2001, 1, 1), datetime(8999, 1, 1),
                                timezones=st.just(timezone.utc)).map(datetime.isoformat)
        low = max(schema.get("minLength", 0), 1 if "pattern" in schema else 0)
        high = max(low, min(schema.get("maxLength", 20), 20))
        return st.text(WORDS.strip() if low else WORDS, min_size=low, max_size=high)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63 - 1)
        integers = st.integers(low, high)
        if kind == "integer":
            return integers
        return st.one_of(integers, st.floats(float(low) / 2, float(high) / 2, allow_nan=False))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON


def _places(value, path=()):
    # Every key and index of a JSON value, so one of them can be spoiled.
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        yield (*path, key)
        yield from _places(item, (*path, key))


@st.composite
def hostile_bodies(draw, component: str):
    """A body the document's ``component`` allows, or one with a value spoiled or a key
    added, or any JSON at all."""
    body = draw(from_schema({"$ref": f"#/components/schemas/{component}"}))
    how = draw(st.sampled_from(["valid", "spoil", "spoil", "add", "anything"]))
    if how == "anything":
        return draw(JSON)
    if how == "add" and isinstance(body, dict):
        body[draw(TEXT)] = draw(JSON)
    places = list(_places(body))
    if how == "spoil" and places:
        # One to three values replaced, most often by the classics (text, then numbers).
        for *parent, key in draw(st.lists(st.sampled_from(places), min_size=1, max_size=3)):
            target = body
            for step in parent:  # an earlier spoil may have replaced a parent
                target = target[step] if _holds(target, step) else None
            if isinstance(target, dict) or _holds(target, key):
                target[key] = draw(st.one_of(HOSTILE_TEXT, HOSTILE_NUMBERS, JSON))
    return body


def _holds(container, key) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def query_values(schema: dict) -> st.SearchStrategy:
    """Text for one query parameter: a valid value, or hostile text a URL can carry."""
    valid = from_schema(schema).map(lambda v: str(v).lower() if isinstance(v, bool)
                                          else v if isinstance(v, str) else str(v))
    return st.one_of(valid, HOSTILE_TEXT.filter(lambda t: "\ud800" not in t and "\udfff" not in t),
                     st.integers().map(str))
