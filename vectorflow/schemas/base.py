"""The glue between the declared models and Flask: parse, refuse, dump, document.

A view reads its input with ``parse_body(Model)`` or ``parse_query(Model)`` and answers
with ``respond(Model.of(obj))``; the OpenAPI document takes its components from the same
classes (``components``). Bad input is an ``InvalidInput`` (400) whose details map each
bad field's path (``pipelines[0].pipelineId``, ``selector.labels.a``) to what is wrong.

Written here (about 150 lines) rather than taken from an integration, because each of
them changes the wire contract this glue keeps: flask-openapi3 and spectree answer 422
with pydantic's error list and read bodies with ``get_json(silent=True)`` (malformed or
non-JSON bodies become ``{}`` or None instead of a 400 or 415), flask-openapi3 replaces
the app and blueprint classes and builds its own document, and flask-pydantic answers
``{"validation_error": ...}`` and documents nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, ClassVar, TypeVar, get_origin

from flask import current_app, request
from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.routing import BaseConverter
from werkzeug.routing import ValidationError as RoutingValidationError

from ..services import ServiceError
from .fields import ID_PATTERN, INT64_MAX, SERIAL_PATTERN, SURROGATE_PROBLEM, sanitized

REF = "#/components/schemas/{model}"


class InvalidInput(ServiceError):
    """A body or query string that does not match its model (400); nothing was changed."""

    status_code = 400

    def __init__(self, details: dict[str, str], *, summary: bool = True):
        message = "Invalid input"
        if summary:
            message += ": " + "; ".join(f"{path}: {problem}" for path, problem in details.items())
        super().__init__(message, details)


class UnsupportedMediaType(ServiceError):
    status_code = 415


def absent(**kwargs) -> Any:
    """Declare a key that may be left out, but is never null when given."""
    return Field(default=None, **kwargs)


class RequestModel(BaseModel):
    """A JSON body or query string: camelCase keys, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")
    # Whether the 400's "error" lists the problems too ("details" always does).
    summarize_errors: ClassVar[bool] = True

    def problems(self) -> dict[str, str]:
        """Return what is wrong across fields, by path (override where fields depend on
        each other)."""
        return {}


class ResponseModel(BaseModel):
    """A response: read from an object's attributes (or a dict), written with camelCase keys.

    Computed values come from a ``mode="before"`` model validator returning ``Computed``.
    """

    model_config = ConfigDict(from_attributes=True, extra="forbid",
                              alias_generator=AliasGenerator(serialization_alias=to_camel))

    @classmethod
    def of(cls, obj: Any, **context):
        """Represent ``obj``; ``context`` is what computed fields need (info.context)."""
        return cls.model_validate(obj, context=context)

    def as_json(self) -> dict:
        """Return the JSON-ready dict (keys left unset are left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Computed:
    """``obj``'s attributes with some replaced: what a response model reads."""

    def __init__(self, obj: Any, **values):
        self.__dict__.update(values)
        self._obj = obj

    def __getattr__(self, name: str):
        return getattr(self._obj, name)


T = TypeVar("T", bound=ResponseModel)


@cache
def page_of(model: type[T]) -> type[ResponseModel]:
    """Return the model of a page of ``model``s (named ``<Model>Page`` in the document)."""
    return create_model(
        f"{model.__name__}Page", __base__=ResponseModel,
        __doc__="One page of a list; pass nextCursor as ?cursor= for the next (null: the last).",
        items=(list[model], ...), next_cursor=(str | None, ...),
    )


def respond(model: BaseModel, status: int = 200):
    """Return ``model`` as a JSON response."""
    return current_app.response_class(
        model.model_dump_json(by_alias=True, exclude_unset=True), status=status,
        mimetype="application/json")


def page_response(rows: Iterable, next_cursor: str | None, model: type[T], **context):
    """Return a list response: ``{"items": [...], "nextCursor": ...}``; ``context`` is the
    same for every row, or a function of the row (``latest=lambda row: ...``)."""
    items = [model.of(row, **{key: value(row) if callable(value) else value
                              for key, value in context.items()}) for row in rows]
    return respond(page_of(model)(items=items, next_cursor=next_cursor))


class IdConverter(BaseConverter):
    """``<id:node_id>``: a path segment that can be one of our ids, so ``/nodes/maintenance``
    is never read as the node "maintenance" (nor advertised with its methods)."""

    regex = ID_PATTERN


class SerialConverter(BaseConverter):
    """``<serial:alert_id>``: a path segment that can be one of our numbered ids (BIGINT); a
    larger number matches no route (404) instead of failing in the database."""

    regex = SERIAL_PATTERN

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= INT64_MAX:
            raise RoutingValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


# -- reading requests ----------------------------------------------------------------------

M = TypeVar("M", bound=RequestModel)
_READ = object()

MESSAGES = {
    "missing": "required",
    "string_type": "must be a string",
    "string_unicode": SURROGATE_PROBLEM,
    "string_too_long": "must be at most {max_length} characters",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing_size": "must be an integer of at most 19 digits",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


def _message(error: dict, unknown: str) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return unknown
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "string_too_short":
        low = ctx.get("min_length", 1)
        return "must not be empty" if low == 1 else f"must be at least {low} characters"
    if kind in ("enum", "literal_error"):
        return "must be one of " + ctx["expected"].replace("'", "").replace(" or ", ", ")
    template = MESSAGES.get(kind)
    return template.format(**ctx) if template else error["msg"]


def _path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # a bad key of a map: the path already names it
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def details_of(err: ValidationError, unknown: str = "unknown field") -> dict[str, str]:
    """Return ``{path: message}`` for a validation error (the first problem of each path)."""
    details: dict[str, str] = {}
    for error in err.errors(include_url=False, include_input=False):
        # A path names the caller's keys, which may be the unclean text refused.
        details.setdefault(sanitized(_path(error["loc"])), sanitized(_message(error, unknown)))
    return details


def _validate(model: type[M], data: dict, unknown: str, problems: dict | None = None) -> M:
    details = dict(problems or {})
    try:
        value = model.model_validate(data)
    except ValidationError as err:
        details.update(details_of(err, unknown))
    else:
        details.update(value.problems())
    if details:
        raise InvalidInput(details, summary=model.summarize_errors)
    return value


def parse_body(model: type[M], data: Any = _READ, *, force: bool = False) -> M:
    """Return the request's JSON body (or ``data``) as ``model``; 400 naming each bad field.

    ``force`` reads the body as JSON whatever its Content-Type (agents do not always say).
    """
    if data is _READ:
        data = read_json(force=force, summary=model.summarize_errors)
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"}, summary=model.summarize_errors)
    return _validate(model, data, "unknown field")


def parse_query(model: type[M], args=None) -> M:
    """Return the query string as ``model``: a list field may repeat, others appear once."""
    args = request.args if args is None else args
    repeated = {field.alias or name for name, field in model.model_fields.items()
                if get_origin(field.annotation) is list}
    data, problems = {}, {}
    for key in args:
        values = args.getlist(key)
        if key in repeated:
            data[key] = values
        elif len(values) > 1:
            problems[key] = "given more than once"
        else:
            data[key] = values[0]
    return _validate(model, data, "unknown parameter", problems)


def read_json(*, force: bool = False, summary: bool = True):
    """Return the request's parsed JSON body ({} when empty, None if ``force``); 415 if not
    JSON (unless ``force``), 400 if malformed, nested too deep or holding NaN/Infinity."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        return None if force else {}  # an agent always sends an object
    mimetype = request.mimetype or ""
    if not force and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            "Request body must be JSON (send Content-Type: application/json)",
            {"contentType": mimetype or "missing"},
        )
    try:
        # The app's JSON provider (wrappers.JSONProvider) refuses, before parsing, a body
        # nested too deep (400) and NaN/Infinity.
        return current_app.json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInput({"body": f"malformed JSON: {getattr(err, 'msg', err)}"},
                           summary=summary) from None


# -- documenting ---------------------------------------------------------------------------


class _Schema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema) -> bool:
        return False


_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not")


def _tidy(schema):
    """Drop generated titles and ``null`` defaults (a key left out is not a null)."""
    if not isinstance(schema, dict):
        return schema
    schema = dict(schema)
    schema.pop("title", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    for key in _SCHEMA_MAPS:
        if key in schema:
            schema[key] = {name: _tidy(sub) for name, sub in schema[key].items()}
    for key in _SCHEMA_LISTS:
        if key in schema:
            schema[key] = [_tidy(sub) for sub in schema[key]]
    for key in _SCHEMA_ONES:
        if key in schema:
            schema[key] = _tidy(schema[key])
    return schema


def components(models: Iterable[type[BaseModel]]) -> dict[str, dict]:
    """Return the JSON Schemas of ``models`` and of everything they use, by name, for
    ``components.schemas`` (requests as they are read, responses as they are written)."""
    pairs = [(m, "validation" if issubclass(m, RequestModel) else "serialization")
             for m in dict.fromkeys(models)]
    _, top = models_json_schema(pairs, ref_template=REF, schema_generator=_Schema, by_alias=True)
    return {name: _tidy(schema) for name, schema in top.get("$defs", {}).items()}


def ref(model: type[BaseModel]) -> dict:
    """Refer to ``model``'s schema in ``components.schemas``."""
    return {"$ref": REF.format(model=model.__name__)}


def query_parameters(model: type[RequestModel]) -> list[dict]:
    """Return the OpenAPI parameter objects of a query-string model."""
    schema = _tidy(model.model_json_schema(ref_template=REF, schema_generator=_Schema,
                                           by_alias=True))
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        param["schema"] = prop
        if prop.get("type") == "array":
            param["explode"] = True
        params.append(param)
    return params
