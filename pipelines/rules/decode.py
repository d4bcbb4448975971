"""JSON bytes to the declared Structs (:mod:`schemas.bodies`): strict and fast where a body has
the declared types, lenient where it does not.

- A body whose types all match is decoded once, by a compiled msgspec decoder that builds only
  the declared fields and skips the rest.
- A value of another type is null on its own: the body is decoded again (rare) by
  :func:`lenient`, field by field, so every other field is still read. A list keeps its
  elements of the right type (the others are null); a union takes the member of the value's
  JSON type.
- Invalid JSON (truncated, raw control characters, trailing text) is told apart from JSON
  ``null`` and from valid JSON of another shape: :func:`read` says which.
- Bytes that are not UTF-8, and escapes of a lone UTF-16 surrogate (``"\\ud800"``), are read as
  U+FFFD (the replacement character); nesting beyond the interpreter's recursion limit is read
  as not JSON (:data:`schemas.bodies.DECODER_LIMITS`). Nothing here raises on bad data.
"""
from __future__ import annotations

import functools
import re
import types
import typing
from typing import Any, NamedTuple

import msgspec
from msgspec import Raw

#: What :func:`read` could not read as JSON, and what it read as JSON of another shape.
_BAD = (msgspec.DecodeError, RecursionError)


class Read(NamedTuple):
    """A body as read: ``logged`` (there was a body), ``json`` (it is JSON), ``value`` (the
    declared type, or None when the JSON is of another shape, ``null`` included)."""
    logged: bool
    json: bool
    value: Any = None


NOT_LOGGED = Read(False, False)
NOT_JSON = Read(True, False)


_DECODERS: dict[Any, msgspec.json.Decoder] = {}


def decoder(type_) -> msgspec.json.Decoder:
    """The compiled decoder of a type (built once per process)."""
    found = _DECODERS.get(type_)
    if found is None:
        found = _DECODERS[type_] = msgspec.json.Decoder(type_)
    return found


_ANY_JSON = decoder(Raw)   # checks that a text is one JSON value, builds nothing


def read(data, type_) -> Read:
    """``data`` (bytes-like JSON text, or None) decoded as ``type_``."""
    if data is None:
        return NOT_LOGGED
    try:
        return Read(True, True, decode(data, type_))
    except _BAD:
        repaired = repair(data)
        if repaired is None:
            return NOT_JSON
        try:
            return Read(True, True, decode(repaired, type_))
        except _BAD:
            return NOT_JSON


def decode(data, type_):
    """``data`` as ``type_``, a value of another type null on its own (see :func:`lenient`).
    Raises DecodeError or RecursionError when ``data`` is not JSON the decoder can read."""
    try:
        return decoder(type_).decode(data)
    except msgspec.ValidationError:
        return _lenient_of_json(type_, data)


def _lenient_of_json(type_, data):
    """After a strict decode failed validation: ``data`` leniently, once it is known to be JSON."""
    _ANY_JSON.decode(data)   # raises when the text is not JSON at all
    return lenient(type_, data)


def value(raw: Raw | None, type_):
    """An open part (a Raw field) decoded as ``type_``; None when absent, JSON ``null``, of
    another type, or unreadable (it never raises)."""
    if raw is None:
        return None
    return read(raw, type_).value


def first_not_none(*values):
    """The first value that is not None (coalesce); None when all are."""
    return next((found for found in values if found is not None), None)


def is_null(raw: Raw | None) -> bool:
    """True when a Raw field is absent or JSON ``null``."""
    if raw is None:
        return True
    view = memoryview(raw)
    return len(view) == 4 and view == b"null"


# --- the lenient path: a value of another type is null on its own --------------------------------


def _members(type_) -> tuple:
    """The types a union stands for (one type: itself), without None."""
    if typing.get_origin(type_) in (typing.Union, types.UnionType):
        return tuple(member for member in typing.get_args(type_) if member is not type(None))
    return (type_,)


def json_kind(data) -> str:
    """'object', 'array', 'string' or 'other', from the first character of a JSON value."""
    first = bytes(memoryview(data)[:64]).lstrip()[:1]
    return {b"{": "object", b"[": "array", b'"': "string"}.get(first, "other")


def _kind_of(member) -> str:
    origin = typing.get_origin(member) or member
    if origin in (list, tuple):
        return "array"
    if origin is dict or (isinstance(origin, type) and issubclass(origin, msgspec.Struct)):
        return "object"
    if member is str:
        return "string"
    return "other"


@functools.lru_cache(maxsize=None)
def _raw_view(struct: type) -> type:
    """A Struct with the same keys as ``struct``, every field Raw: the body's parts, not read."""
    fields = msgspec.structs.fields(struct)
    return msgspec.defstruct(f"{struct.__name__}Parts", [(f.name, Raw, None) for f in fields],
                             rename={f.name: f.encode_name for f in fields})


def lenient(type_, data):
    """``data`` (valid JSON) as ``type_``, field by field: what has the declared type is read,
    anything else is null."""
    if type_ is Raw:
        return Raw(bytes(data))
    kind = json_kind(data)
    member = next((m for m in _members(type_) if _kind_of(m) == kind), None)
    if member is None:
        return None
    try:
        return decoder(member).decode(data)
    except msgspec.ValidationError:
        pass
    origin = typing.get_origin(member) or member
    if kind == "array":
        (element,) = typing.get_args(member) or (Any,)
        return [lenient(element, item) for item in decoder(list[Raw]).decode(data)]
    if origin is dict:
        _, element = typing.get_args(member)
        return {key: lenient(element, item) for key, item in decoder(dict[str, Raw]).decode(data).items()}
    if kind == "object":
        parts = decoder(_raw_view(member)).decode(data)
        found = {}
        for field in msgspec.structs.fields(member):
            part = getattr(parts, field.name)
            if part is not None:
                found[field.name] = lenient(field.type, part)
        return member(**found)
    return None   # a scalar of the wrong type (a number out of range included)


# --- repairs: what is read as the replacement character --------------------------------------

#: An escape of a UTF-16 surrogate pair (kept) or of a lone surrogate (replaced), not itself
#: escaped (an even number of backslashes before it).
_SURROGATE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _replace_lone_surrogate(match: re.Match) -> bytes:
    escapes, code = match.groups()
    return match.group(0) if len(code) > 4 else escapes + rb"\ufffd"


def repair(data) -> bytes | None:
    """The text with bytes that are not UTF-8 and escapes of lone surrogates replaced by U+FFFD;
    None when there is nothing to replace (the text is simply not JSON)."""
    text = bytes(data)
    repaired = text.decode("utf-8", errors="replace").encode("utf-8")
    repaired = _SURROGATE.sub(_replace_lone_surrogate, repaired)
    return None if repaired == text else repaired
