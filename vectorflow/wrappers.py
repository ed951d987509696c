"""The request, response and JSON classes of the app: what every request body and page
goes through, so hostile input is refused in one place rather than in each view.

* A body is refused with 413 past ``MAX_CONTENT_LENGTH`` whatever its transfer encoding
  (Werkzeug cuts a chunked body at the limit and hands the view what fitted).
* JSON nested deeper than ``JSON_DEPTH_MAX`` is refused with 400 before the parser
  recurses into it, and NaN/Infinity (not JSON) are refused like any malformed JSON.
* A query string, form or URL path holding a NUL character gets 400 naming the field
  (PostgreSQL cannot store NUL in text).
* A page holding a value that UTF-8 cannot encode (a lone surrogate stored in a JSON
  column) is sent with ``?`` in its place instead of failing.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import Flask, request
from flask import Request as FlaskRequest
from flask import Response as FlaskResponse
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from .errors import render_error
from .schemas.fields import JSON_DEPTH_MAX
from .text import text_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BoundedStream(LimitedStream):
    """A body without Content-Length (chunked) read up to ``limit``; one byte more is a 413."""

    def __init__(self, stream, limit: int):
        super().__init__(stream, limit + 1, is_max=True)
        self.max_length = limit

    def readinto(self, b) -> int | None:
        count = super().readinto(b)
        if self.tell() > self.max_length:
            raise RequestEntityTooLarge()
        return count


class Request(FlaskRequest):
    """Flask's request, whose body stream refuses a chunked body over the limit."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if (limit is not None and self.content_length is None and not self.shallow
                and "wsgi.input_terminated" in self.environ):
            return BoundedStream(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)


class Response(FlaskResponse):
    """Flask's response; a text body UTF-8 cannot encode (lone surrogates) gets ``?`` there."""

    def set_data(self, value) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8", "replace")
        super().set_data(value)


class JSONTooDeep(BadRequest):
    """A JSON body nested deeper than ``JSON_DEPTH_MAX`` (400 naming the limit)."""


# A string, escapes included; an unterminated one runs to the end, so each quote is
# looked at once (no backtracking over a body of quotes).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STEP = tuple(1 if c == ord("(") else -1 for c in range(256))


def json_depth_exceeds(text: str | bytes, limit: int = JSON_DEPTH_MAX) -> bool:
    """Return whether JSON ``text`` opens more than ``limit`` arrays/objects inside each other.

    A linear scan of the brackets outside strings: no recursion, whatever the nesting.
    """
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    if text.count(b"[") + text.count(b"{") <= limit:  # the common case: nothing to scan
        return False
    brackets = _JSON_STRING.sub(b"", text).translate(_BRACKETS, _NOT_BRACKETS)
    if brackets.count(b"(") <= limit:
        return False
    return max(accumulate(map(_STEP.__getitem__, brackets))) > limit


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested too deep (before parsing) and NaN/Infinity."""

    def loads(self, s: str | bytes, **kwargs):
        if json_depth_exceeds(s):
            raise JSONTooDeep(f"JSON body is nested deeper than {JSON_DEPTH_MAX} levels")
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)


def loads_form_json(text: str):
    """Parse JSON typed into a form field, bounded like a body; ValueError saying what is
    wrong (for a form message) on any problem."""
    if json_depth_exceeds(text):
        raise ValueError(f"nested deeper than {JSON_DEPTH_MAX} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ValueError(f"{err.msg} (line {err.lineno})") from None


def _text_problem(values, kind: str):
    for key, value in values.items(multi=True):
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            return f"{kind} {key!r} {problem}", {key: problem}
    return None


def refuse_nul_characters():
    """Answer 400 to a URL path, query string or form field holding a NUL character."""
    req = request._get_current_object()  # one proxy lookup: this runs on every request
    environ = req.environ
    problem = None
    if "\x00" in environ.get("PATH_INFO", ""):
        problem = ("the URL path must not contain NUL characters",
                   {"path": "must not contain NUL characters"})
    elif "%00" in environ.get("QUERY_STRING", ""):
        problem = _text_problem(req.args, "query parameter")
    if problem is None and environ.get("CONTENT_TYPE", "").lower().startswith(FORM_TYPES):
        # Read the raw body first (cached, so the form parses it later as usual).
        raw = req.get_data(cache=True)
        if b"%00" in raw or b"\x00" in raw:
            problem = _text_problem(req.form, "form field")
    return render_error(400, *problem) if problem is not None else None


def init_app(app: Flask) -> None:
    """Install the request, response and JSON classes and the NUL guard on ``app``."""
    app.request_class = Request
    app.response_class = Response
    app.json = JSONProvider(app)
    app.before_request(refuse_nul_characters)
