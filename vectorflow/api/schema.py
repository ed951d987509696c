"""Small builders for the JSON Schemas in the OpenAPI document (draft 2020-12, as OpenAPI 3.1)."""
from __future__ import annotations

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
DATETIME = {"type": "string", "format": "date-time"}
ANY_OBJECT = {"type": "object"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def ref(name: str) -> dict:
    """Refer to a schema in ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """Allow ``null`` besides ``schema``."""
    if set(schema) <= {"type", "format"} and isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def enum(values) -> dict:
    """A string that is one of ``values``."""
    return {"type": "string", "enum": [getattr(v, "name", v) for v in values]}


def array(items: dict) -> dict:
    """A list of ``items``."""
    return {"type": "array", "items": items}


def obj(properties: dict, *, optional: tuple[str, ...] = (), extra: bool = False) -> dict:
    """An object with these properties, all required except ``optional``.

    Response objects are closed (no other keys), so a serializer that grows a key
    without its schema fails the OpenAPI test.
    """
    schema = {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
    }
    if not extra:
        schema["additionalProperties"] = False
    return schema


def page_of(item: dict) -> dict:
    """A paginated list response: ``{"items": [...], "nextCursor": ...}``."""
    return obj({"items": array(item), "nextCursor": nullable(STRING)})
