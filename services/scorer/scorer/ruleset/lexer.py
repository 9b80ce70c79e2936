"""The tokenizer: expression text to a list of tokens, by hand, one pass.

Nothing here evaluates anything; unknown characters, unterminated strings and
malformed names are errors with their position.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from scorer.ruleset.errors import RuleSetError, error_at

MAX_EXPRESSION_LENGTH = 4000
"""Longer expressions are rejected: rules are meant to be read by people."""

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})

# Spellings borrowed from other languages, caught so that they do not silently
# become unknown (null) variables.
_MISSPELT_KEYWORDS = {
    "true": "true", "false": "false", "none": "null", "null": "null", "nil": "null",
    "and": "and", "or": "or", "not": "not", "in": "in",
}
_MISSPELT_OPERATORS = {"&&": "and", "||": "or", "=": "==", "!": "not", "<>": "!=", "===": "=="}

_TWO_CHAR = frozenset({"==", "!=", "<=", ">="})
_ONE_CHAR = frozenset("()[],<>+-*/")


class Kind(Enum):
    """Token kinds."""

    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "operator"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (strings unescaped), its offset in the expression."""

    kind: Kind
    text: str
    pos: int

    def describe(self) -> str:
        """How the token reads in an error message."""
        if self.kind is Kind.END:
            return "end of expression"
        if self.kind is Kind.STRING:
            return f"string {_clip(self.text)!r}"
        return f"'{_clip(self.text)}'"


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens ending with an ``END`` token.

    Raises :class:`RuleSetError` on anything that is not a token of the language.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise RuleSetError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif _is_digit(ch):
            i = _number(text, i, tokens)
        elif ch in "'\"":
            i = _string(text, i, tokens)
        elif _is_name_start(ch):
            i = _name(text, i, tokens)
        elif text[i:i + 3] in _MISSPELT_OPERATORS:
            raise _misspelt_operator(text, i, text[i:i + 3])
        elif text[i:i + 2] in _TWO_CHAR:
            tokens.append(Token(Kind.OP, text[i:i + 2], i))
            i += 2
        elif text[i:i + 2] in _MISSPELT_OPERATORS:
            raise _misspelt_operator(text, i, text[i:i + 2])
        elif ch in _ONE_CHAR:
            tokens.append(Token(Kind.OP, ch, i))
            i += 1
        elif ch in _MISSPELT_OPERATORS:
            raise _misspelt_operator(text, i, ch)
        else:
            raise error_at(text, i, f"unexpected character {ch!r}")
    tokens.append(Token(Kind.END, "", n))
    return tokens


def _misspelt_operator(text: str, i: int, op: str) -> RuleSetError:
    return error_at(text, i, f"unknown operator '{op}' (write '{_MISSPELT_OPERATORS[op]}')")


def _number(text: str, start: int, tokens: list[Token]) -> int:
    """Digits, an optional fraction and an optional exponent: ``12``, ``0.5``, ``1e3``."""
    i, n = start, len(text)
    while i < n and _is_digit(text[i]):
        i += 1
    if i < n and text[i] == ".":
        if i + 1 >= n or not _is_digit(text[i + 1]):
            raise error_at(text, i, "expected a digit after the decimal point")
        i += 1
        while i < n and _is_digit(text[i]):
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j >= n or not _is_digit(text[j]):
            raise error_at(text, i, "expected digits in the exponent")
        i = j
        while i < n and _is_digit(text[i]):
            i += 1
    if i < n and (_is_name_char(text[i]) or text[i] == "."):
        raise error_at(text, start, "malformed number", f"'{_clip(text[start:i + 1])}'")
    tokens.append(Token(Kind.NUMBER, text[start:i], start))
    return i


def _string(text: str, start: int, tokens: list[Token]) -> int:
    r"""A string in single or double quotes on one line.

    A backslash escapes only the quote and the backslash; any other backslash is
    kept as is, so regular expressions read naturally (``'^\d+$'``).
    """
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == quote:
            tokens.append(Token(Kind.STRING, "".join(out), start))
            return i + 1
        if ch == "\n":
            break
        if ch == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise error_at(text, start, "unterminated string")


def _name(text: str, start: int, tokens: list[Token]) -> int:
    """A keyword or a (dotted) name: ``transaction_amt``, ``customer.count_1h``."""
    i, n = start, len(text)
    while True:
        segment_start = i
        while i < n and _is_name_char(text[i]):
            i += 1
        if text.startswith("__", segment_start):
            raise error_at(text, segment_start, "names may not start with '__'")
        if i < n and text[i] == ".":
            if i + 1 < n and _is_name_start(text[i + 1]):
                i += 1
                continue
            raise error_at(text, i + 1, "expected a name after '.'")
        break
    word = text[start:i]
    if word in KEYWORDS:
        tokens.append(Token(Kind.KEYWORD, word, start))
    elif word.lower() in _MISSPELT_KEYWORDS:
        raise error_at(text, start, f"'{word}' is not a keyword "
                                    f"(write '{_MISSPELT_KEYWORDS[word.lower()]}')")
    else:
        tokens.append(Token(Kind.NAME, word, start))
    return i
