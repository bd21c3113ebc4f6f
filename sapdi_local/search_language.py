"""The search language for runs: a filter expression and an order, as MLflow's
``search_runs`` spells them, with OR, parentheses, ranges and times besides.

>>> parse_filter("metrics.accuracy > 0.9 and params.optimizer = 'adam'")
And(operands=(Comparison(key=Key(kind='metric', name='accuracy'), operator='>', ...), ...))
>>> parse_order_by(["metrics.accuracy DESC"])
(OrderKey(key=Key(kind='metric', name='accuracy'), descending=True),)

A hand-written tokenizer and recursive-descent parser turn the text, once, into a small
tree of named tuples; ``sapdi_local.store.search`` compiles that tree to one SQL query
with bound parameters. Everything a key or a value means is decided here (which run field
a key names, what a time or a duration literal is), so that the SQL and any other reader
of the tree (the tests' plain-Python evaluator) agree. No SQL and no sqlite3 here.

Every malformed expression raises ``InvalidFilterError`` naming the 1-based position, with
the expression and a caret under that position, and what was expected there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeAlias

from .errors import InvalidFilterError

# Bounds on what one expression may ask for: each keeps the parse, the SQL and its bound
# parameters small (SQLite allows 32,766 parameters; 10,000 characters hold fewer values).
MAX_EXPRESSION_LENGTH = 10_000
MAX_DEPTH = 50  # parentheses and NOTs inside each other
MAX_IN_VALUES = 1_000
MAX_CONDITIONS = 200
MAX_ORDER_KEYS = 20
MAX_RESULTS = 100_000

# The kinds of keys.
METRIC = "metric"
PARAM = "param"
TAG = "tag"
LABEL = "label"
ATTRIBUTE = "attribute"

# What an attribute holds decides which literals it compares with.
_TEXT = "text"  # compared as text, or as a number when both sides are numbers
_STATUS = "status"  # text only: one of the statuses
_TIME = "time"  # Unix seconds; literals may be dates or ages
_DURATION = "duration"  # seconds; literals may be '90s', '5m', '2h'
_NUMBER = "number"  # metrics: numbers only

ATTRIBUTES: dict[str, str] = {
    "id": _TEXT,
    "name": _TEXT,
    "status": _STATUS,
    "collection": _TEXT,
    "scenario": _TEXT,
    "scenario_version": _TEXT,
    "notebook": _TEXT,
    "pipeline": _TEXT,
    "execution": _TEXT,
    "start_time": _TIME,
    "end_time": _TIME,
    "duration": _DURATION,
}
# MLflow's names of the same attributes.
_ATTRIBUTE_ALIASES = {"run_name": "name", "run_id": "id"}
# Tags that MLflow (and get_runs) show but that are the run's name.
_NAME_TAGS = ("mlflow.runName", "runName")
_PREFIXES = {
    "metrics": METRIC,
    "metric": METRIC,
    "params": PARAM,
    "param": PARAM,
    "parameters": PARAM,
    "tags": TAG,
    "tag": TAG,
    "labels": LABEL,
    "label": LABEL,
    "attributes": ATTRIBUTE,
    "attribute": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
}
_PREFIX_OF = {METRIC: "metrics", PARAM: "params", TAG: "tags", LABEL: "labels"}
# The statuses a run shows (see model.STATUSES; repeated here to keep this module free of
# imports, and checked against it by the tests).
STATUSES = ("RUNNING", "FINISHED", "FAILED", "INTERRUPTED", "TERMINATED", "KILLED")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# A time number this large is MLflow's Unix milliseconds: as seconds it would lie past the
# year 5000, and no run of ours starts after 2262.
_MILLISECONDS_ABOVE = 1e11


class Key(NamedTuple):
    """What a condition looks at: a metric's last value, a parameter, a tag, a label (its
    JSON scalar), or an attribute of the run (``kind`` ATTRIBUTE, ``name`` one of
    ``ATTRIBUTES``)."""

    kind: str
    name: str


class Ago(NamedTuple):
    """A time given as an age ('-2d'): ``seconds`` before the moment the query runs."""

    seconds: float


Value: TypeAlias = "float | str | Ago"


class Comparison(NamedTuple):
    """``key operator values``; ``negated`` for != (operator '='), NOT LIKE, NOT IN,
    NOT BETWEEN and IS NOT NULL.

    ``operator`` is one of '=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'IN', 'BETWEEN'
    (two values, low then high) or 'IS NULL' (no values). Numbers are floats, text is
    str; values of time attributes are Unix seconds or ``Ago``, of ``duration`` seconds."""

    key: Key
    operator: str
    values: tuple[Value, ...]
    negated: bool = False


class Not(NamedTuple):
    operand: Expression


class And(NamedTuple):
    operands: tuple[Expression, ...]


class Or(NamedTuple):
    operands: tuple[Expression, ...]


Expression: TypeAlias = "Comparison | Not | And | Or"


class OrderKey(NamedTuple):
    """One key of an order: ascending unless ``descending``."""

    key: Key
    descending: bool = False


def holds(key: Key) -> str:
    """What the key holds, which decides the literals it takes: 'number' (metrics), 'time'
    (start_time, end_time), 'duration', 'status', or 'text' (compared as text, or as
    numbers when the literal is a number: parameters, tags, labels, other attributes)."""
    if key.kind == METRIC:
        return _NUMBER
    if key.kind == ATTRIBUTE:
        return ATTRIBUTES[key.name]
    return _TEXT


def key_text(key: Key) -> str:
    """The key as it is written, back-quoted where its name needs it: ``metrics.`val loss```."""
    if key.kind == ATTRIBUTE:
        return key.name
    name = key.name
    if not re.fullmatch(r"[^\s()=<>!,'\"`.]+", name):
        name = "`" + name.replace("`", "``") + "`"
    return f"{_PREFIX_OF[key.kind]}.{name}"


# ---------------------------------------------------------------- tokens

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


# ---------------------------------------------------------------- the parser


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


def parse_filter(text: str | None) -> Expression | None:
    """The tree of a filter expression; None for no filter (None, empty or blank text).

    >>> parse_filter("status = 'FINISHED' and (params.lr < 0.01 or tags.stage IN ('a', 'b'))")
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidFilterError(
            f"a filter expression is text, got {type(text).__name__}; for example "
            "\"metrics.accuracy > 0.9 and params.optimizer = 'adam'\""
        )
    source = _Source(text, "")
    _checked_length(source)
    parser = _Parser(source)
    if parser.peek().kind == _END:
        return None
    expression = parser.expression()
    parser.finish()
    return expression


def parse_order_by(items: Sequence[str] | str | None) -> tuple[OrderKey, ...]:
    """The keys of an order: each item ``KEY [ASC|DESC]`` (ascending unless DESC), or
    several such separated by commas.

    >>> parse_order_by(["metrics.accuracy DESC", "params.lr"])
    """
    if items is None:
        return ()
    if isinstance(items, str):
        items = [items]
    keys: list[OrderKey] = []
    for number, item in enumerate(items, start=1):
        what = f"in order_by item {number}: " if len(items) > 1 else "in order_by: "
        if not isinstance(item, str):
            raise InvalidFilterError(
                f"{what}expected text such as 'metrics.accuracy DESC', got {type(item).__name__}"
            )
        source = _Source(item, what)
        _checked_length(source)
        parser = _Parser(source)
        while True:
            token = parser.peek()
            key = parser.key()
            direction = parser.peek()
            descending = parser.is_keyword(direction, "DESC")
            if descending or parser.is_keyword(direction, "ASC"):
                parser.advance()
            keys.append(OrderKey(key, descending))
            if len(keys) > MAX_ORDER_KEYS:
                raise _fail(source, token.start, f"an order has at most {MAX_ORDER_KEYS} keys")
            separator = parser.advance()
            if separator.kind == _END:
                break
            if not (separator.kind == _PUNCTUATION and separator.text == ","):
                raise parser.expect("ASC, DESC, ',' or the end", parser.previous_text(), separator)
    return tuple(keys)


def check_page(max_results: object, offset: object) -> tuple[int | None, int]:
    """``max_results`` (None for all, else 1 to MAX_RESULTS) and ``offset`` (0 or more),
    checked: an ``InvalidFilterError`` names the one that is wrong."""
    # bool is an int, but True is no count of runs.
    if max_results is not None and (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 1 <= max_results <= MAX_RESULTS
    ):
        raise InvalidFilterError(
            f"max_results must be a whole number from 1 to {MAX_RESULTS:,}, got {max_results!r}; "
            "page through more with offset"
        )
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**62:
        raise InvalidFilterError(f"offset must be a whole number, 0 or more, got {offset!r}")
    return max_results, offset
