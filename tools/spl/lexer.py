"""Splitting SPL text: quoted strings, pipes, top-level commas and keywords."""
from __future__ import annotations

from typing import List, Optional, Tuple

from .errors import SplError


def unquote(s: str) -> str:
    """The content of a double-quoted SPL string: \\" and \\\\ are escapes, other backslashes stay."""
    body = s[1:-1]
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
            out.append(body[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def scan_quoted(text: str, i: int, quote: str = '"') -> int:
    """Index just past the closing quote of the string starting at text[i]."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            return j + 1
        j += 1
    raise SplError("unterminated quoted string: %s" % text[i:i + 60])


def split_top(text: str, sep: str, *, brackets: bool = True, parens: bool = True) -> List[str]:
    """Split on a one-character separator outside quotes, brackets and parentheses."""
    parts = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = scan_quoted(text, i)
            continue
        if (brackets and c == "[") or (parens and c == "("):
            depth += 1
        elif (brackets and c == "]") or (parens and c == ")"):
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def scan_group(text: str, i: int) -> Optional[int]:
    """Index just past the parenthesised group that opens at text[i] (quotes respected), or
    None when it is never closed."""
    depth = 0
    n = len(text)
    while i < n:
        if text[i] == '"':
            i = scan_quoted(text, i)
            continue
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def words(text: str) -> List[Tuple[str, bool]]:
    """Whitespace-separated words; a quoted word comes back unquoted with quoted=True.
    Quotes may sit inside a word (key="a b") and are kept there."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        if text[i] == '"':
            j = scan_quoted(text, i)
            if j >= n or text[j].isspace():
                out.append((unquote(text[i:j]), True))
                i = j
                continue
        j = i
        while j < n and not text[j].isspace():
            if text[j] == '"':
                j = scan_quoted(text, j)
                continue
            if text[j] == "(":
                # keep a parenthesised group (function call) in one word
                j = scan_group(text, j) or n
                continue
            j += 1
        out.append((text[start:j], False))
        i = j
    return out
