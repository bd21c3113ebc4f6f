"""The recursive-descent parser: tokens into the tree of ``tree.py``, each literal made
into what its key holds (a number, a status, a time or an age, a duration) and checked
against it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ..errors import InvalidFilterError
from .tokens import (
    _END,
    _KEYWORDS,
    _NUMBER_PATTERN,
    _NUMBER_TOKEN,
    _OPERATOR,
    _PUNCTUATION,
    _QUOTED_NAME,
    _STRING,
    _WORD,
    _fail,
    _Source,
    _Token,
    _tokens,
)
from .tree import (
    _ATTRIBUTE_ALIASES,
    _DURATION,
    _NAME_TAGS,
    _NUMBER,
    _PREFIXES,
    _STATUS,
    _TIME,
    ATTRIBUTE,
    ATTRIBUTES,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_IN_VALUES,
    STATUSES,
    TAG,
    Ago,
    And,
    Comparison,
    Expression,
    Key,
    Not,
    Or,
    Value,
    holds,
)

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# A time number this large is MLflow's Unix milliseconds: as seconds it would lie past the
# year 5000, and no run of ours starts after 2262.
_MILLISECONDS_ABOVE = 1e11


def _shown(token: _Token, source: _Source) -> str:
    if token.kind == _END:
        return " (the end of the expression)"
    return f", found {source.text[token.start : token.end][:40]!r}"


class _Parser:
    """Recursive descent over the tokens; each method parses one rule of the grammar:

    expression := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | '(' expression ')' | comparison
    comparison := key ( op value | [NOT] (LIKE | ILIKE) text | [NOT] IN '(' value, ... ')'
                      | [NOT] BETWEEN value AND value | IS [NOT] NULL )
    """

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.index = 0
        self.depth = 0
        self.conditions = 0

    # ---- tokens

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != _END:
            self.index += 1
        return token

    def is_keyword(self, token: _Token, *words: str) -> bool:
        return token.kind == _WORD and token.text.upper() in words

    def expect(self, what: str, after: str, token: _Token) -> InvalidFilterError:
        after_text = f" after {after}" if after else ""
        return _fail(
            self.source, token.start, f"expected {what}{after_text}", _shown(token, self.source)
        )

    def previous_text(self) -> str:
        token = self.tokens[self.index - 1]
        return self.source.text[token.start : token.end]

    # ---- the grammar

    def expression(self) -> Expression:
        return self.chain("OR", self.conjunction)

    def conjunction(self) -> Expression:
        return self.chain("AND", self.negation)

    def chain(self, word: str, operand: Callable[[], Expression]) -> Expression:
        """Operands joined by ``word`` (AND or OR): one node for the lot, or the operand alone."""
        operands = [operand()]
        while self.is_keyword(self.peek(), word):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        return Or(tuple(operands)) if word == "OR" else And(tuple(operands))

    def negation(self) -> Expression:
        token = self.peek()
        if self.is_keyword(token, "NOT") or (token.kind == _PUNCTUATION and token.text == "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _fail(
                    self.source,
                    token.start,
                    f"parentheses and NOTs nest at most {MAX_DEPTH} deep; simplify the expression",
                )
            self.advance()
            if token.text == "(":
                inner = self.expression()
                closing = self.peek()
                if not (closing.kind == _PUNCTUATION and closing.text == ")"):
                    raise self.expect(
                        f"AND, OR or a ')' to close the '(' of position {token.start + 1}",
                        self.previous_text(),
                        closing,
                    )
                self.advance()
            else:
                inner = Not(self.negation())
            self.depth -= 1
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        start = self.peek()
        key = self.key()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _fail(
                self.source,
                start.start,
                f"an expression holds at most {MAX_CONDITIONS} conditions; use IN (...) for "
                "many values of one key",
            )
        written = self.source.text[start.start : self.tokens[self.index - 1].end]
        token = self.advance()
        if token.kind == _OPERATOR:
            operator = {"!=": "=", "<>": "="}.get(token.text, token.text)
            value = self.value(key, written, operator)
            return Comparison(key, operator, (value,), token.text in ("!=", "<>"))
        negated = self.is_keyword(token, "NOT")
        if negated:
            token = self.advance()
            if not self.is_keyword(token, "LIKE", "ILIKE", "IN", "BETWEEN"):
                raise self.expect("LIKE, ILIKE, IN or BETWEEN", f"{written} NOT", token)
        word = token.text.upper() if token.kind == _WORD else ""
        if word in ("LIKE", "ILIKE"):
            return Comparison(key, word, (self.pattern(key, written, word),), negated)
        if word == "IN":
            return Comparison(key, "IN", self.value_list(key, written), negated)
        if word == "BETWEEN":
            low = self.value(key, written, "BETWEEN")
            conjunction = self.advance()
            if not self.is_keyword(conjunction, "AND"):
                raise self.expect("AND", f"{written} BETWEEN {self.previous_text()}", conjunction)
            high = self.value(key, written, "BETWEEN")
            if isinstance(low, str) != isinstance(high, str):
                raise _fail(
                    self.source,
                    self.tokens[self.index - 1].start,
                    "expected two values of one kind for BETWEEN (two numbers or two texts)",
                )
            return Comparison(key, "BETWEEN", (low, high), negated)
        if word == "IS":
            negated = self.is_keyword(self.peek(), "NOT")
            if negated:
                self.advance()
            null = self.advance()
            if not self.is_keyword(null, "NULL"):
                raise self.expect("NULL", f"{written} IS{' NOT' if negated else ''}", null)
            return Comparison(key, "IS NULL", (), negated)
        raise self.expect(
            "a comparison operator (= != < <= > >= LIKE ILIKE IN BETWEEN IS)", written, token
        )

    def key(self) -> Key:
        # After the word before it (AND, NOT, '('), if any.
        after = self.previous_text() if self.index > 0 else ""
        token = self.advance()
        what = (
            "a key (metrics.NAME, params.NAME, tags.NAME, labels.NAME or an attribute such "
            "as status, name or start_time)"
        )
        if token.kind != _WORD or token.text.upper() in _KEYWORDS:
            if token.kind == _QUOTED_NAME:
                what += "; a back-quoted name follows a prefix: metrics.`val loss`"
            raise self.expect(what, after, token)
        prefix, dot, name = token.text.partition(".")
        if not dot:
            return self.attribute(token.text, token)
        kind = _PREFIXES.get(prefix.lower())
        if kind is None:
            raise _fail(
                self.source,
                token.start,
                "expected a key",
                f", found the prefix {prefix + '.'!r}: use metrics., params., tags., labels. or "
                "attributes.",
            )
        if not name:
            # The name is quoted, right after the dot: metrics.`val loss`, params."a.b"
            quoted = self.peek()
            if quoted.quote not in ("`", '"') or quoted.start != token.end:
                raise _fail(
                    self.source,
                    token.end,
                    f"expected a name after {token.text!r} (quote a name with spaces, dots "
                    "or operators in back quotes: metrics.`val loss`)",
                )
            self.advance()
            name = quoted.text
            if not name:
                raise _fail(self.source, quoted.start, "expected a name", ", found an empty one")
        if kind == ATTRIBUTE:
            return self.attribute(name, token)
        if kind == TAG and name in _NAME_TAGS:
            return Key(ATTRIBUTE, "name")
        return Key(kind, name)

    def attribute(self, name: str, token: _Token) -> Key:
        lowered = name.lower()
        lowered = _ATTRIBUTE_ALIASES.get(lowered, lowered)
        if lowered not in ATTRIBUTES:
            shown = name[:40]
            raise _fail(
                self.source,
                token.start,
                "expected a key",
                f", found {shown!r}: write metrics.{shown}, params.{shown}, tags.{shown} or "
                f"labels.{shown}, or an attribute: {', '.join(ATTRIBUTES)}",
            )
        return Key(ATTRIBUTE, lowered)

    def literal(self, written: str, operator: str) -> tuple[float | str, _Token]:
        token = self.advance()
        if token.kind == _NUMBER_TOKEN:
            number = float(token.text)
            if not math.isfinite(number):
                raise _fail(self.source, token.start, "expected a finite number")
            return number, token
        if token.kind == _STRING:
            return token.text, token
        hint = ""
        if token.kind == _WORD and token.text.upper() not in _KEYWORDS:
            hint = f"; text is quoted: '{token.text[:40]}'"
        raise _fail(
            self.source,
            token.start,
            f"expected a value (a number or quoted text) after {written} {operator}",
            _shown(token, self.source) + hint,
        )

    def value(self, key: Key, written: str, operator: str) -> Value:
        """A literal, made into what ``key`` holds (a time, a duration) and checked against it."""
        raw, token = self.literal(written, operator)
        kind = holds(key)
        if kind == _NUMBER:
            if isinstance(raw, str):
                raise _fail(
                    self.source,
                    token.start,
                    f"expected a number for {written}",
                    f", found text {raw[:40]!r}; metrics hold numbers",
                )
            return raw
        if kind == _TIME:
            return self.time(raw, token, written)
        if kind == _DURATION:
            return self.duration(raw, token, written)
        if kind == _STATUS:
            if not isinstance(raw, str):
                raise _fail(self.source, token.start, f"expected a quoted status for {written}")
            if operator in ("=", "IN") and raw not in STATUSES:
                raise _fail(
                    self.source,
                    token.start,
                    f"expected a status ({', '.join(STATUSES)}) for {written}",
                    f", found {raw[:40]!r}",
                )
        return raw

    def time(self, raw: float | str, token: _Token, written: str) -> float | Ago:
        if isinstance(raw, float):
            return raw / 1000 if abs(raw) > _MILLISECONDS_ABOVE else raw
        text = raw.strip()
        age = re.fullmatch(r"-\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdw])", text)
        if age is not None:
            return Ago(float(age.group(1)) * _UNITS[age.group(2)])
        if _NUMBER_PATTERN.fullmatch(text):
            return self.time(float(text), token, written)
        moment = _iso_seconds(text)
        if moment is None:
            hint = "; an age has a minus: '-2d'" if re.fullmatch(r"[\d.]+\s*[smhdw]", text) else ""
            raise _fail(
                self.source,
                token.start,
                f"expected a time for {written}",
                f", found {raw[:40]!r}{hint}; a time is a date '2026-11-01', a date and time "
                "'2026-11-01T12:00' (UTC unless a zone is given), an age '-2d' (units s m h d "
                "w) or Unix seconds",
            )
        return moment

    def duration(self, raw: float | str, token: _Token, written: str) -> float:
        if isinstance(raw, float):
            return raw
        text = raw.strip()
        if _NUMBER_PATTERN.fullmatch(text):
            return float(text)
        match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw])", text)
        if match is None:
            raise _fail(
                self.source,
                token.start,
                f"expected a duration for {written}",
                f", found {raw[:40]!r}; a duration is seconds, or '90s', '5m', '2h', '1d', '1w'",
            )
        return float(match.group(1)) * _UNITS[match.group(2)]

    def pattern(self, key: Key, written: str, operator: str) -> str:
        if holds(key) in (_NUMBER, _TIME, _DURATION):
            raise _fail(
                self.source,
                self.tokens[self.index - 1].start,
                f"{operator} compares text, and {written} holds numbers; use = < > or BETWEEN",
            )
        raw, token = self.literal(written, operator)
        if not isinstance(raw, str):
            raise _fail(
                self.source,
                token.start,
                f"expected a quoted pattern after {operator}, such as '%adam%'",
            )
        return raw

    def value_list(self, key: Key, written: str) -> tuple[Value, ...]:
        opening = self.advance()
        if not (opening.kind == _PUNCTUATION and opening.text == "("):
            raise self.expect("'(' and a list of values", f"{written} IN", opening)
        values: list[Value] = []
        while True:
            if len(values) == MAX_IN_VALUES:
                raise _fail(
                    self.source,
                    self.peek().start,
                    f"an IN list holds at most {MAX_IN_VALUES:,} values",
                )
            values.append(self.value(key, written, "IN"))
            separator = self.advance()
            if separator.kind == _PUNCTUATION and separator.text == ")":
                return tuple(values)
            if not (separator.kind == _PUNCTUATION and separator.text == ","):
                raise self.expect("',' or ')'", f"{self.previous_text()} in the IN list", separator)

    def finish(self) -> None:
        token = self.peek()
        if token.kind != _END:
            if token.kind == _PUNCTUATION and token.text == ")":
                raise _fail(self.source, token.start, "found a ')' that closes no '('")
            raise self.expect("AND, OR or the end of the expression", self.previous_text(), token)


def _iso_seconds(text: str) -> float | None:
    """Unix seconds of an ISO 8601 date or date and time (UTC unless it names a zone)."""
    if not re.match(r"\d{4}-\d{2}-\d{2}", text):
        return None
    from datetime import datetime, timezone  # imported when first needed

    try:
        # Python before 3.11 reads no 'Z'; it is the zone +00:00.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
