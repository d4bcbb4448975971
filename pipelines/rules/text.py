"""The text of an open part: a message content, a prompt, an input. Never invented: a part
without text gives None, not ''."""
from __future__ import annotations

from msgspec import Raw

from pipelines.rules.decode import value
from schemas.bodies import CONTENT, STRINGS, ContentPart


def joined(texts, separator: str) -> str | None:
    """The strings of ``texts`` joined (other values skipped); None when there are none."""
    kept = [text for text in texts if isinstance(text, str)]
    return separator.join(kept) if kept else None


def part_text(part) -> str | None:
    """Text of one content part: its ``text``, or the part itself when it is a string."""
    if isinstance(part, str):
        return part
    if isinstance(part, ContentPart):
        return part.text
    return None


def content_text(raw: Raw | None) -> str | None:
    """A message content: a string; a list of parts ``{type, text}`` (or strings) joined by
    newlines, parts without text (images) skipped; or a single part."""
    content = value(raw, CONTENT)
    if isinstance(content, list):
        return joined(map(part_text, content), "\n")
    return part_text(content)


def strings_text(raw: Raw | None) -> str | None:
    """A string, or a list of strings joined by newlines (prompts, embeddings inputs)."""
    found = value(raw, STRINGS)
    return joined(found, "\n") if isinstance(found, list) else found


def string_text(raw: Raw | None) -> str | None:
    """A string only."""
    found = value(raw, str)
    return found if isinstance(found, str) else None
