"""Reading the text of an expression into tokens (words, numbers, quoted text and names,
operators, punctuation), and the errors that point at a position in it: ``_fail`` shows
the text with a caret under the offending character.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..errors import InvalidFilterError
from .tree import MAX_EXPRESSION_LENGTH

_WORD = "word"
_NUMBER_TOKEN = "number"
_STRING = "string"
_QUOTED_NAME = "quoted name"
_OPERATOR = "operator"
_PUNCTUATION = "punctuation"
_END = "end"

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "BETWEEN", "IS", "NULL"})
_NUMBER_PATTERN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# A bare word (a keyword, a key) runs until a space or a character that means something.
_WORD_END = frozenset("()=<>!,'\"`")
_OPERATORS = ("<=", ">=", "<>", "!=", "=", "<", ">")


class _Token(NamedTuple):
    kind: str
    text: str  # a string's or quoted name's content unescaped; otherwise as typed
    start: int  # 0-based offsets into the expression
    end: int
    quote: str = ""  # the quote of a string: a double-quoted one after a prefix is a name


class _Source(NamedTuple):
    """The text being parsed, and what it is called in messages."""

    text: str
    what: str  # "" for a filter; "in order_by item 2: " for an order


def _fail(source: _Source, offset: int, message: str, detail: str = "") -> InvalidFilterError:
    """An error: ``message`` at the 1-based position, then ``detail`` (what was found, a
    hint), then the text with a caret under the position."""
    text = source.text
    # A window of the text around the position, on one line, so the caret lines up.
    first = max(0, offset - 50)
    last = min(len(text), max(offset, first) + 30)
    shown = "".join(
        " " if character in "\t\r\n\v\f" else character for character in text[first:last]
    )
    lead = "..." if first > 0 else ""
    tail = "..." if last < len(text) else ""
    caret = " " * (len(lead) + offset - first) + "^"
    return InvalidFilterError(
        f"{source.what}{message} at position {offset + 1}{detail}\n  {lead}{shown}{tail}\n  {caret}"
    )


def _tokens(source: _Source) -> list[_Token]:
    text = source.text
    tokens: list[_Token] = []
    position = 0
    length = len(text)
    while position < length:
        character = text[position]
        if character.isspace():
            position += 1
            continue
        start = position
        if character in "(),":
            tokens.append(_Token(_PUNCTUATION, character, start, start + 1))
            position += 1
            continue
        if character in "=<>!":
            operator = next((o for o in _OPERATORS if text.startswith(o, position)), None)
            if operator is None:
                raise _fail(source, position, "expected '=' after '!'")
            tokens.append(_Token(_OPERATOR, operator, start, start + len(operator)))
            position += len(operator)
            continue
        if character in "'\"`":
            content, position = _quoted(source, position)
            kind = _QUOTED_NAME if character == "`" else _STRING
            tokens.append(_Token(kind, content, start, position, character))
            continue
        number = _NUMBER_PATTERN.match(text, position)
        if number is not None and (character.isdigit() or number.end() > position + 1):
            position = number.end()
            if (
                position < length
                and not text[position].isspace()
                and text[position] not in _WORD_END
            ):
                raise _fail(
                    source,
                    start,
                    "expected a number",
                    f", found {text[start : _word_end(text, position)][:40]!r}; quote text, "
                    "durations and ages: '5m', '-2d'",
                )
            tokens.append(_Token(_NUMBER_TOKEN, number.group(), start, position))
            continue
        position = _word_end(text, position)
        tokens.append(_Token(_WORD, text[start:position], start, position))
    tokens.append(_Token(_END, "", length, length))
    return tokens


def _word_end(text: str, position: int) -> int:
    while position < len(text) and not text[position].isspace() and text[position] not in _WORD_END:
        position += 1
    return position


def _quoted(source: _Source, start: int) -> tuple[str, int]:
    """The content of the quoted text starting at ``start`` (a doubled quote stands for
    one), and the offset after its closing quote."""
    text = source.text
    quote = text[start]
    parts: list[str] = []
    position = start + 1
    while True:
        closing = text.find(quote, position)
        if closing < 0:
            what = "name" if quote == "`" else "text"
            raise _fail(
                source,
                start,
                f"expected a closing {quote} for the {what} that starts here "
                f"(a {quote} inside it is written twice: {quote}{quote})",
            )
        parts.append(text[position:closing])
        if text.startswith(quote, closing + 1):
            parts.append(quote)
            position = closing + 2
            continue
        return "".join(parts), closing + 1


def _checked_length(source: _Source) -> None:
    if len(source.text) > MAX_EXPRESSION_LENGTH:
        raise _fail(
            source,
            MAX_EXPRESSION_LENGTH,
            f"an expression is at most {MAX_EXPRESSION_LENGTH:,} characters; this one has "
            f"{len(source.text):,}",
        )
    # A NUL would end a LIKE pattern early in SQLite (matching more than asked), and a
    # lone surrogate (text that was not UTF-8) cannot be sent to SQLite at all.
    for offset, character in enumerate(source.text):
        if character == "\x00" or "\ud800" <= character <= "\udfff":
            what = "a NUL character" if character == "\x00" else "text that is not UTF-8"
            raise _fail(source, offset, f"{what} cannot be searched for; remove it")
