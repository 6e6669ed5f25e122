"""A small reader of nginx configuration for tests: tokens, blocks and directives.

parse(text) -> [(words, children)] where words is the directive with its arguments
(a tuple of tokens, quotes kept) and children is None for a simple directive or the
list of the block's entries. It follows nginx's own lexer closely enough for the
files the roles write: '#' starts a comment outside quotes, ';' ends a directive,
'{' and '}' open and close blocks, quotes group words, '\\' escapes.
"""

from __future__ import annotations

Entry = tuple[tuple[str, ...], "list[Entry] | None"]


class ParseError(ValueError):
    pass


def tokens(text: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{};":
            out.append(c)
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise ParseError(f"unterminated quote at {i}")
            out.append(text[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};\"'":
                if text[j] == "\\":
                    j += 1
                j += 1
            # nginx ends a word at '#' only after whitespace: "a#b" is one word
            out.append(text[i:j])
            i = j
    return out


def parse(text: str) -> list[Entry]:
    stack: list[list[Entry]] = [[]]
    words: list[str] = []
    for tok in tokens(text):
        if tok == ";":
            if not words:
                raise ParseError("empty directive")
            stack[-1].append((tuple(words), None))
            words = []
        elif tok == "{":
            block: list[Entry] = []
            stack[-1].append((tuple(words), block))
            stack.append(block)
            words = []
        elif tok == "}":
            if words:
                raise ParseError(f"unterminated directive {words}")
            if len(stack) == 1:
                raise ParseError("unbalanced '}'")
            stack.pop()
        else:
            words.append(tok)
    if len(stack) != 1 or words:
        raise ParseError("unbalanced braces or unterminated directive")
    return stack[0]


def blocks(entries: list[Entry], name: str) -> list[Entry]:
    return [e for e in entries if e[1] is not None and e[0] and e[0][0] == name]


def walk(entries: list[Entry], depth: int = 0):
    """Every entry, depth first: (depth, words, is_block)."""
    for words, children in entries:
        yield depth, words, children is not None
        if children is not None:
            yield from walk(children, depth + 1)
