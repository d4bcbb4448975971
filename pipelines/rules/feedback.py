"""The review app's feedback rows: which rows are feedback, what is wrong with a feedback row,
and one assessment row per rating (docs/payload-formats.md, feedback rows).

``source``, ``text_assessments`` and ``retrieval_assessments`` may be JSON values or JSON-encoded
strings of them; both read the same way. A single assessment object (not in a list) counts as
a list of one.
"""
from __future__ import annotations

import math

from msgspec import Raw

from pipelines.rules.decode import decoder, is_null, json_kind, read, value
from schemas.bodies import RequestBody, RequestRecord, RetrievalAssessment, Source, TextAssessment

#: A retrieval position is an integer within 32 bits (the column's type).
_INT32 = range(-2 ** 31, 2 ** 31)


def records(body: RequestBody | None) -> list[RequestRecord]:
    """The feedback records of a request body (``dataframe_records``; unreadable ones left out)."""
    if body is None or not body.dataframe_records:
        return []
    return [record for record in body.dataframe_records if record is not None]


def carries_assessments(record: RequestRecord) -> bool:
    return not is_null(record.text_assessments) or not is_null(record.retrieval_assessments)


def is_feedback(body: RequestBody | None) -> bool:
    """A row is feedback when any record carries text or retrieval assessments."""
    return any(carries_assessments(record) for record in records(body))


def decoded(raw: Raw) -> Raw:
    """A part sent as JSON, or as a JSON-encoded string of it: the JSON it stands for."""
    if json_kind(raw) == "string":
        content = read(value(raw, str).encode("utf-8"), Raw)
        if content.json:
            return content.value
    return raw


def assessment_list(raw: Raw | None) -> list[Raw] | None:
    """The assessments of a part: its elements (a list), or itself (one object); None when it is
    absent or neither (undecodable)."""
    if is_null(raw):
        return None
    part = decoded(raw)
    kind = json_kind(part)
    if kind == "array":
        return decoder(_RAW_LIST).decode(part)
    return [part] if kind == "object" else None


_RAW_LIST = list[Raw]


class FeedbackRecord:
    """A record's feedback parts, each read once: its text and retrieval assessments (None when
    absent or undecodable), its source, and whether a part present could not be decoded."""
    __slots__ = ("record", "texts", "retrievals", "source", "undecodable")

    def __init__(self, record: RequestRecord):
        self.record = record
        self.texts = assessment_list(record.text_assessments)
        self.retrievals = assessment_list(record.retrieval_assessments)
        self.source = None if is_null(record.source) else decoded(record.source)
        self.undecodable = ((self.texts is None and not is_null(record.text_assessments))
                            or (self.retrievals is None and not is_null(record.retrieval_assessments))
                            or (self.source is not None and json_kind(self.source) != "object"))

    @property
    def count(self) -> int:
        return len(self.texts or ()) + len(self.retrievals or ())


def feedback_records(body: RequestBody | None) -> list[FeedbackRecord]:
    return [FeedbackRecord(record) for record in records(body)]


def assessment_count(found: list[FeedbackRecord]) -> int:
    """How many rows :func:`assessment_rows` gives for a body's records, without building them."""
    return sum(record.count for record in found)


def feedback_problem(found: list[FeedbackRecord]) -> str | None:
    """The quarantine reason of a feedback row whose assessments cannot all be derived, or None."""
    if any(record.undecodable for record in found):
        return "feedback_not_decodable"
    if assessment_count(found) == 0:
        return "feedback_without_assessments"
    if any(not (record.record.request_id or "").strip() and record.count > 0 for record in found):
        return "feedback_missing_request_id"
    return None


# --- the assessment rows ---------------------------------------------------------------------


def rating_value(raw: Raw | None) -> tuple[str | None, float | None]:
    """A rating's value as text (JSON booleans as 'true'/'false', a number as written) and, for a
    JSON number, as a double (None beyond a double's range)."""
    if raw is None or json_kind(raw) in ("object", "array"):
        return None, None
    if json_kind(raw) == "string":
        return value(raw, str), None
    text = bytes(raw).decode("utf-8", errors="replace").strip()
    if text in ("true", "false"):
        return text, None
    if text == "null":
        return None, None
    number = float(text)
    return text, number if math.isfinite(number) else None


def ratings(found: dict[str, Raw] | None) -> dict[str, dict] | None:
    """``{name: {value, double_value, rationale}}``; a rating given as a bare value is accepted."""
    if found is None:
        return None
    out = {}
    for name, raw in found.items():
        rationale = None
        if json_kind(raw) == "object":
            rating = value(raw, dict[str, Raw]) or {}
            raw, rationale = rating.get("value"), value(rating.get("rationale"), str)
        text, number = rating_value(raw)
        out[name] = {"value": text, "double_value": number, "rationale": rationale}
    return out


def source_of(found: FeedbackRecord) -> dict:
    source = (value(found.source, Source) if found.source is not None else None) or Source()
    return {"type": source.type, "id": source.id, "tags": source.tags}


def _int32(number: int | None) -> int | None:
    return number if number is not None and number in _INT32 else None


def _text_row(record: RequestRecord, source: dict, raw: Raw) -> dict:
    found = value(raw, TextAssessment) or TextAssessment()
    return {"request_id": record.request_id, "step_id": found.step_id if found.step_id is not None else record.step_id,
            "source": source, "retrieval_assessment": None,
            "text_assessment": {"step_id": found.step_id, "ratings": ratings(found.ratings),
                                "free_text_comment": found.free_text_comment,
                                "suggested_output": found.suggested_output}}


def _retrieval_row(record: RequestRecord, source: dict, raw: Raw) -> dict:
    found = value(raw, RetrievalAssessment) or RetrievalAssessment()
    return {"request_id": record.request_id, "step_id": found.step_id if found.step_id is not None else record.step_id,
            "source": source, "text_assessment": None,
            "retrieval_assessment": {"position": _int32(found.position),
                                     "step_id": found.step_id, "ratings": ratings(found.ratings),
                                     "free_text_comment": found.free_text_comment}}


def assessment_rows(found: list[FeedbackRecord]) -> list[dict]:
    """Every assessment of every record of a feedback body (:func:`feedback_records`), one row
    each (the assessment-logs columns but ``timestamp``, the feedback row's): a record's text
    assessments, then its retrieval assessments. ``step_id`` is the assessment's, else the
    record's."""
    rows = []
    for parts in found:
        source = source_of(parts)
        rows += [_text_row(parts.record, source, raw) for raw in parts.texts or ()]
        rows += [_retrieval_row(parts.record, source, raw) for raw in parts.retrievals or ()]
    return rows
