"""Request validation for the JSON API: one declaration per body or query string.

A ``Body`` lists its ``Field``s once; the same declaration validates the request
(400 with per-field details, nothing changed) and renders the request schema in the
OpenAPI document, so the two cannot drift apart::

    MAINTENANCE = Body(enabled=Field("boolean", required=True),
                       reason=Field("string", max_length=500, nullable=True))

    data = MAINTENANCE.parse()     # dict of the keys the caller sent, values checked
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app, request

from ..services import ServiceError

KINDS = ("string", "integer", "number", "boolean", "datetime", "object", "array")


class InvalidInput(ServiceError):
    """A body or query string that does not match its declaration (400)."""

    status_code = 400

    def __init__(self, details: dict[str, str]):
        summary = "; ".join(f"{key}: {problem}" for key, problem in details.items())
        super().__init__(f"Invalid input: {summary}", details)


class UnsupportedMediaType(ServiceError):
    status_code = 415


class _Problem(Exception):
    pass


@dataclass(frozen=True)
class Field:
    """One field of a JSON body or query string, with the checks applied to it."""

    kind: str
    required: bool = False
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    items: "Field | None" = None  # arrays: the element field
    max_items: int | None = None
    values: "Field | None" = None  # objects with free keys: the value field
    fields: "Body | None" = None  # objects with fixed keys
    repeated: bool = False  # query strings: the parameter may repeat; gives a list
    description: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")

    # -- validation ---------------------------------------------------------------

    def check(self, value, path: str, problems: dict):
        """Return the checked (and for datetimes, parsed) value; record problems by path."""
        try:
            return self._check(value, path, problems)
        except _Problem as err:
            problems[path] = str(err)
            return None

    def _check(self, value, path, problems):
        if value is None:
            if self.nullable:
                return None
            raise _Problem("must not be null")
        kind = self.kind
        if kind == "string":
            if not isinstance(value, str):
                raise _Problem("must be a string")
            low = self.min_length if self.min_length is not None else (1 if self.required else 0)
            if len(value.strip()) < low:
                raise _Problem("must not be empty" if low == 1 else f"must be at least {low} characters")
            if self.max_length is not None and len(value) > self.max_length:
                raise _Problem(f"must be at most {self.max_length} characters")
            if self.choices is not None and value not in self.choices:
                raise _Problem(f"must be one of {', '.join(self.choices)}")
            return value
        if kind in ("integer", "number"):
            ok = isinstance(value, int) if kind == "integer" else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                raise _Problem(f"must be {'an integer' if kind == 'integer' else 'a number'}")
            if self.minimum is not None and value < self.minimum:
                raise _Problem(f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise _Problem(f"must be at most {self.maximum}")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _Problem("must be true or false")
            return value
        if kind == "datetime":
            if not isinstance(value, str):
                raise _Problem("must be an ISO 8601 timestamp string")
            return parse_datetime(value)
        if kind == "array":
            if not isinstance(value, list):
                raise _Problem("must be a list")
            if self.max_items is not None and len(value) > self.max_items:
                raise _Problem(f"must have at most {self.max_items} items")
            if self.items is None:
                return value
            return [self.items.check(item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
        # object
        if not isinstance(value, dict):
            raise _Problem("must be an object")
        if self.fields is not None:
            return self.fields.check(value, problems, prefix=f"{path}.")
        if self.values is not None:
            return {k: self.values.check(v, f"{path}.{k}", problems) for k, v in value.items()}
        return value

    def from_text(self, text: str):
        """Convert a query-string value to this field's kind."""
        if self.kind == "integer":
            try:
                return int(text)
            except ValueError:
                raise _Problem("must be an integer") from None
        if self.kind == "boolean":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise _Problem("must be true or false")
        return text

    # -- documentation ------------------------------------------------------------

    def schema(self) -> dict:
        """Return the JSON Schema of this field."""
        kind = self.kind
        if kind == "datetime":
            schema = {"type": "string", "format": "date-time"}
        elif kind == "array":
            schema = {"type": "array"}
            if self.items is not None:
                schema["items"] = self.items.schema()
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif kind == "object":
            if self.fields is not None:
                schema = self.fields.schema()
            else:
                schema = {"type": "object"}
                if self.values is not None:
                    schema["additionalProperties"] = self.values.schema()
        else:
            schema = {"type": kind}
        if kind == "string":
            low = self.min_length if self.min_length is not None else (1 if self.required else None)
            if low:
                schema["minLength"] = low
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
            if self.choices is not None:
                schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.nullable:
            if isinstance(schema.get("type"), str):
                schema["type"] = [schema["type"], "null"]
                if "enum" in schema:
                    schema["enum"] = [*schema["enum"], None]
            else:
                schema = {"anyOf": [schema, {"type": "null"}]}
        if self.description:
            schema["description"] = self.description
        return schema


class Body:
    """The fields of a JSON object body; unknown keys are refused."""

    def __init__(self, **fields: Field):
        self.fields = fields

    def check(self, data: dict, problems: dict, prefix: str = "") -> dict:
        """Check an object against the fields, recording problems; return the checked keys."""
        cleaned = {}
        for key in data:
            if key not in self.fields:
                problems[f"{prefix}{key}"] = "unknown field"
        for key, spec in self.fields.items():
            if key not in data:
                if spec.required:
                    problems[f"{prefix}{key}"] = "required"
                continue
            cleaned[key] = spec.check(data[key], f"{prefix}{key}", problems)
        return cleaned

    def validate(self, data) -> dict:
        """Return the checked body, or raise InvalidInput listing every problem."""
        if not isinstance(data, dict):
            raise InvalidInput({"body": "must be a JSON object"})
        problems: dict[str, str] = {}
        cleaned = self.check(data, problems)
        if problems:
            raise InvalidInput(problems)
        return cleaned

    def parse(self) -> dict:
        """Read the request's JSON body and validate it."""
        return self.validate(read_json())

    def schema(self) -> dict:
        """Return the JSON Schema of the body."""
        schema = {
            "type": "object",
            "properties": {key: spec.schema() for key, spec in self.fields.items()},
            "additionalProperties": False,
        }
        required = [key for key, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        return schema


class Query:
    """The parameters of a query string; unknown parameters are refused."""

    def __init__(self, **fields: Field):
        self.fields = fields

    def parse(self) -> dict:
        """Return the checked query parameters that were given (lists for repeated ones)."""
        problems: dict[str, str] = {}
        cleaned = {}
        for key in request.args:
            if key not in self.fields:
                problems[key] = "unknown parameter"
        for key, spec in self.fields.items():
            texts = request.args.getlist(key)
            if not texts:
                if spec.required:
                    problems[key] = "required"
                continue
            if len(texts) > 1 and not spec.repeated:
                problems[key] = "given more than once"
                continue
            values = []
            for text in texts:
                try:
                    value = spec.from_text(text)
                except _Problem as err:
                    problems[key] = str(err)
                    break
                values.append(spec.check(value, key, problems))
            cleaned[key] = values if spec.repeated else values[0] if values else None
        if problems:
            raise InvalidInput(problems)
        return cleaned

    def parameters(self) -> list[dict]:
        """Return the OpenAPI parameter objects of this query string."""
        params = []
        for key, spec in self.fields.items():
            schema = spec.schema()
            param = {"name": key, "in": "query", "required": spec.required, "schema": schema}
            if spec.repeated:
                param["schema"] = {"type": "array", "items": schema}
                param["explode"] = True
            if spec.description:
                param["description"] = spec.description
                schema.pop("description", None)
            params.append(param)
        return params


def read_json():
    """Return the request's parsed JSON body ({} when empty); 415 if not JSON, 400 if malformed."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        return {}
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            "Request body must be JSON (send Content-Type: application/json)",
            {"contentType": mimetype or "missing"},
        )
    try:
        return current_app.json.loads(raw)  # refuses JSON nested too deep (400)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInput({"body": f"malformed JSON: {getattr(err, 'msg', err)}"}) from None


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with a zone (``Z`` or an offset) into UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _Problem("must be an ISO 8601 timestamp, e.g. 2026-05-03T15:00:00Z") from None
    if value.tzinfo is None:
        raise _Problem("must include a time zone, e.g. 2026-05-03T15:00:00Z")
    return value.astimezone(timezone.utc)
