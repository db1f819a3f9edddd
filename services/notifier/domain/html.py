"""The HTML part of every e-mail: the same words as the plain text, as a small accessible page.

One layout for all: `lang` on the document, the subject as its one `h1`, paragraphs as in the
text, every web address in the text a real link, dark text on white well above WCAG AA
contrast, no images, no remote resources of any kind and nothing that reports an opening: a
mail scanner or a reader opening it learns nothing and fetches nothing. Sized for a phone by a
viewport and a text column that wraps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from shared.events import Language

LAYOUT = """<!DOCTYPE html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title>
<style>
body { margin: 0; padding: 16px; background: #ffffff; color: #1a1a1a;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       font-size: 16px; line-height: 1.5; }
main { max-width: 40em; margin: 0 auto; overflow-wrap: anywhere; }
h1 { font-size: 1.4em; margin: 0 0 0.8em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; }
ul { padding-left: 1.2em; margin: 0; }
li { margin: 0 0 0.6em; }
a { color: #0b4f9c; text-decoration: underline; }
</style>
</head>
<body>
<main>
<h1>{{ subject }}</h1>
{% macro say(line) %}{% for piece in line %}{% if piece.url %}<a href="{{ piece.url }}">
{{- piece.text }}</a>{% else %}{{ piece.text }}{% endif %}{% endfor %}{% endmacro -%}
{% for block in blocks %}{% if block.heading %}<h2>{{ say(block.heading) }}</h2>
{% endif %}{% if block.items %}<ul>
{% for item in block.items %}<li>{{ say(item) }}</li>
{% endfor %}</ul>
{% elif block.lines %}<p>{% for line in block.lines %}{% if not loop.first %}<br>
{% endif %}{{ say(line) }}{% endfor %}</p>
{% endif %}{% endfor %}</main>
</body>
</html>
"""

# Only the web addresses a template itself wrote (the portal's); the text is ours, not a user's.
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


@dataclass(frozen=True)
class Piece:
    text: str
    url: str | None = None


def _pieces(line: str) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    at = 0
    for match in _URL.finditer(line):
        if match.start() > at:
            pieces.append(Piece(line[at:match.start()]))
        pieces.append(Piece(match.group(), match.group()))
        at = match.end()
    if at < len(line):
        pieces.append(Piece(line[at:]))
    return tuple(pieces)


@lru_cache(maxsize=1)
def _layout() -> Template:
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    return env.from_string(LAYOUT)


@dataclass(frozen=True)
class Block:
    heading: tuple[Piece, ...] | None
    lines: tuple[tuple[Piece, ...], ...]
    items: tuple[tuple[Piece, ...], ...]


def _block(text: str, headings: frozenset[str]) -> Block:
    lines = text.split("\n")
    heading = _pieces(lines.pop(0)) if lines[0] in headings else None
    if lines and all(line.startswith("- ") or line.startswith("  ") for line in lines):
        items: list[str] = []
        for line in lines:
            if line.startswith("- "):
                items.append(line[2:])
            else:  # a continuation of the item above (its link)
                items[-1] += " " + line.strip()
        return Block(heading, (), tuple(_pieces(item) for item in items))
    return Block(heading, tuple(_pieces(line) for line in lines), ())


def render_html(language: Language, subject: str, text: str,
                headings: frozenset[str] = frozenset()) -> str:
    """The plain text's paragraphs (blank-line separated) and lines, as HTML with the subject as
    its heading; a paragraph that starts with one of `headings` gets it as a section heading,
    one whose lines are "- " items becomes a list. Every value is escaped, and a web address
    becomes a link to itself."""
    blocks = [_block(block, headings) for block in text.strip().split("\n\n") if block.strip()]
    return _layout().render(language=language, subject=subject, blocks=blocks)
