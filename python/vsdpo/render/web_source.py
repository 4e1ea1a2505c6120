"""Markup tracing for the web renderer: which lines of the submitted HTML made each element.

:func:`trace_source` parses the submitted HTML with :class:`html.parser.HTMLParser` (which reports
the position of every tag and text chunk) and returns a :class:`SourceMap`:

* every start tag gets an id, its start line, the line its start tag ends on and the line of its
  end tag (or of whatever closed it implicitly); the copy handed to Chromium carries that id as a
  ``data-vsdpo-id`` attribute, inserted on the tag's own line, so the browser's DOM element is
  tied to the parser's tag however the browser re-nests misnested markup, and no line moves;
* every non-blank text chunk gets its line span, numbered among its tag's text chunks (the
  in-page script numbers DOM text nodes the same way);
* every CSS rule of every ``<style>`` block gets its selector and line span in the submitted HTML,
  numbered in source order per block (the in-page script lines them up with the CSSOM rules);
* whether the page would run any script of its own while it is rendered (:func:`runs_scripts`):
  the renderer writes pages that would not into a document where scripts are forbidden,
  without a navigation.

Lines are 1-based lines of the submitted code, with the line breaks of :mod:`vsdpo.code`
(``\\r\\n``, ``\\r``, ``\\n``), whatever the parser counts internally.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from vsdpo.code import line_spans

ID_ATTRIBUTE = "data-vsdpo-id"
LineRange = tuple[int, int]

#: elements with no end tag
VOID_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr basefont bgsound frame "
    "keygen".split()
)
#: elements whose content the browser reads as text: tags inside them are not elements
TEXT_CONTENT_TAGS = frozenset({"textarea", "title", "xmp", "iframe", "noembed", "noframes"})
#: a start tag of the key closes an open element of a value tag (HTML's implied end tags), as
#: long as no element in the ``scope`` set lies between them
_IMPLIED_END: dict[str, frozenset[str]] = {
    "p": frozenset({"p"}),
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "tr": frozenset({"tr", "td", "th"}),
    "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}),
    "option": frozenset({"option"}),
    "thead": frozenset({"tbody", "tfoot", "tr", "td", "th"}),
    "tbody": frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}),
    "tfoot": frozenset({"thead", "tbody", "tr", "td", "th"}),
}
#: block-level start tags close an open <p>
_CLOSES_P = frozenset(
    "address article aside blockquote details div dl fieldset figcaption figure footer form h1 h2 "
    "h3 h4 h5 h6 header hr main menu nav ol p pre section table ul".split()
)
_SCOPE = frozenset({"table", "ul", "ol", "dl", "select", "div", "body", "html", "td", "th"})
_TAG_NAME = re.compile(r"<\s*[^\s/>]+")
#: the ``type`` of a <script> the browser runs (HTML's JavaScript MIME types, "module", none)
_SCRIPT_TYPES = frozenset(
    "application/ecmascript application/javascript application/x-ecmascript "
    "application/x-javascript text/ecmascript text/javascript text/javascript1.0 "
    "text/javascript1.1 text/javascript1.2 text/javascript1.3 text/javascript1.4 "
    "text/javascript1.5 text/jscript text/livescript text/x-ecmascript text/x-javascript "
    "module".split()
)
#: elements that hold a document of their own, which may run scripts
_NESTED_DOCUMENTS = frozenset({"iframe", "frame", "frameset", "object", "embed", "portal"})
#: event handlers that only a user's click, key or drag fires: a render never does (hover and
#: focus handlers are not here: scrolling and autofocus can fire them)
_INTERACTION_HANDLERS = frozenset(
    "onclick ondblclick onauxclick oncontextmenu onmousedown onmouseup onpointerdown onpointerup "
    "onpointercancel onkeydown onkeyup onkeypress ontouchstart ontouchend ontouchmove "
    "ontouchcancel ondrag ondragstart ondragend ondragenter ondragleave ondragover ondrop "
    "oninput onbeforeinput onchange onsubmit onreset oncopy oncut onpaste onbeforecopy "
    "onbeforecut onbeforepaste oninvalid onsearch".split()
)


def runs_scripts(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether this start tag makes the page run a script of its own while it renders.

    A ``<script>`` of a JavaScript type, an element holding another document, a
    ``<meta http-equiv=refresh>``, or an event handler other than click/key/drag ones (``onload``,
    ``onerror``, ``onmouseover``...). ``javascript:`` links need a click, so they do not count.

    >>> runs_scripts("script", [("type", "application/ld+json")])
    False
    >>> runs_scripts("a", [("href", "#"), ("onclick", "track()")])
    False
    >>> runs_scripts("img", [("src", "x.png"), ("onerror", "swap(this)")])
    True
    """
    if tag == "script":
        kind = next((v for k, v in attrs if k == "type"), None)
        return not kind or kind.strip().lower() in _SCRIPT_TYPES
    if tag in _NESTED_DOCUMENTS:
        return True
    if tag == "meta" and any(
        k == "http-equiv" and (v or "").strip().lower() == "refresh" for k, v in attrs
    ):
        return True
    return any(k.startswith("on") and k not in _INTERACTION_HANDLERS for k, _ in attrs)


@dataclass
class TagSource:
    """One start tag of the submitted HTML."""

    id: int
    name: str
    start_line: int
    start_tag_end_line: int  # the line the start tag's ``>`` is on
    end_line: int  # the end tag's line (or the line of what closed the element)
    has_style: bool  # an inline ``style=`` attribute (it lives on the start tag's lines)
    parent: int | None  # the enclosing tag as the parser saw it
    texts: list[LineRange] = field(default_factory=list)  # non-blank text chunks, in order

    @property
    def span(self) -> LineRange:
        return (self.start_line, max(self.end_line, self.start_tag_end_line))

    @property
    def start_tag(self) -> LineRange:
        return (self.start_line, self.start_tag_end_line)


@dataclass
class CssRule:
    """One style rule of a ``<style>`` block."""

    id: int  # global, in document order
    style_tag: int  # the TagSource id of its <style> block
    index: int  # its position among the style rules of that block
    selector: str
    start_line: int
    end_line: int


@dataclass
class SourceMap:
    """The submitted HTML's tags, text chunks and CSS rules with their lines, and the copy to load."""

    code: str
    annotated: str  # ``code`` with data-vsdpo-id attributes (same lines)
    tags: list[TagSource]
    rules: list[CssRule]
    #: the page runs scripts of its own while it renders (see :func:`runs_scripts`)
    runs_scripts: bool = False

    def tag(self, tag_id: int) -> TagSource | None:
        return self.tags[tag_id] if 0 <= tag_id < len(self.tags) else None

    def rules_by_block(self) -> dict[int, list[CssRule]]:
        out: dict[int, list[CssRule]] = {}
        for r in self.rules:
            out.setdefault(r.style_tag, []).append(r)
        return out


class _LineIndex:
    """Character offset -> 1-based line, with :mod:`vsdpo.code`'s line breaks."""

    def __init__(self, text: str) -> None:
        self.starts = [s for s, _ in line_spans(text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


class _Tracer(HTMLParser):
    def __init__(self, code: str) -> None:
        super().__init__(convert_charrefs=True)
        self.code = code
        self.lines = _LineIndex(code)
        # the parser counts only "\n": offsets of its line starts, to turn getpos() into offsets
        self._nl_starts = [0] + [m.end() for m in re.finditer("\n", code)]
        self.tags: list[TagSource] = []
        self.stack: list[int] = []
        self.inserts: list[tuple[int, int]] = []  # (offset, tag id)
        self.style_blocks: list[tuple[int, int, str]] = []  # (tag id, offset, css text)
        self._pending: tuple[int, int] | None = None  # (offset, owner tag) of a text chunk
        self._raw_depth = 0  # inside textarea/title/...: tags there are text
        self.runs_scripts = False

    def _here(self) -> int:
        line, col = self.getpos()
        return self._nl_starts[line - 1] + col

    # -- events -----------------------------------------------------------------------------

    def _flush_text(self, end: int) -> None:
        if self._pending is None:
            return
        start, owner = self._pending
        self._pending = None
        raw = self.code[start:end]
        if owner < 0 or not raw.strip():
            return
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw.rstrip())
        self.tags[owner].texts.append(
            (self.lines.line(start + lead), self.lines.line(start + trail - 1))
        )

    def handle_data(self, data: str) -> None:
        here = self._here()
        owner = self.stack[-1] if self.stack else -1
        if owner >= 0 and self.tags[owner].name == "style":
            self.style_blocks.append((owner, here, data))
            return
        if self._pending is None:
            self._pending = (here, owner)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        start = self._here()
        self._flush_text(start)
        if self._raw_depth:
            return
        if not self.runs_scripts:
            self.runs_scripts = runs_scripts(tag, attrs)
        text = self.get_starttag_text() or ""
        end = start + max(len(text) - 1, 0)
        line = self.lines.line(start)
        self._close_implied(tag, line)
        tag_id = len(self.tags)
        self.tags.append(
            TagSource(
                id=tag_id,
                name=tag,
                start_line=line,
                start_tag_end_line=self.lines.line(end),
                end_line=self.lines.line(end),
                has_style=any(k == "style" for k, _ in attrs),
                parent=self.stack[-1] if self.stack else None,
            )
        )
        m = _TAG_NAME.match(text)
        if m is not None:
            self.inserts.append((start + m.end(), tag_id))
        # "<div/>" is an open <div> in HTML; only foreign content (svg, math) honours the slash
        if tag in VOID_TAGS or (self_closing and self._in_foreign_content()):
            return
        self.stack.append(tag_id)
        if tag in TEXT_CONTENT_TAGS:
            self._raw_depth = 1

    def _in_foreign_content(self) -> bool:
        return any(self.tags[t].name in ("svg", "math") for t in self.stack)

    def _close_implied(self, tag: str, line: int) -> None:
        closes = _IMPLIED_END.get(tag, frozenset())
        if tag in _CLOSES_P:
            closes = closes | {"p"}
        if not closes:
            return
        for depth in range(len(self.stack) - 1, -1, -1):
            name = self.tags[self.stack[depth]].name
            if name in closes:
                for tag_id in self.stack[depth:]:
                    self.tags[tag_id].end_line = line
                del self.stack[depth:]
                return
            if name in _SCOPE:
                return

    def handle_endtag(self, tag: str) -> None:
        here = self._here()
        self._flush_text(here)
        line = self.lines.line(here)
        if self._raw_depth and self.stack and self.tags[self.stack[-1]].name != tag:
            return  # "</b>" inside a <textarea> is text
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.tags[self.stack[depth]].name == tag:
                for tag_id in self.stack[depth:]:
                    self.tags[tag_id].end_line = line
                del self.stack[depth:]
                self._raw_depth = 0
                return
        # a stray end tag: ignored, as browsers do

    def handle_comment(self, data: str) -> None:
        self._flush_text(self._here())

    def handle_decl(self, decl: str) -> None:
        self._flush_text(self._here())

    def finish(self) -> None:
        self.close()
        self._flush_text(len(self.code))
        last = self.lines.line(max(len(self.code) - 1, 0))
        for tag_id in self.stack:
            self.tags[tag_id].end_line = max(self.tags[tag_id].end_line, last)


def trace_source(code: str) -> SourceMap:
    """Parse ``code`` (an HTML document or fragment): tags, text chunks and CSS rules with lines."""
    tracer = _Tracer(code)
    tracer.feed(code)
    tracer.finish()
    pieces: list[str] = []
    last = 0
    for offset, tag_id in sorted(tracer.inserts):
        pieces.append(code[last:offset])
        pieces.append(f' {ID_ATTRIBUTE}="{tag_id}"')
        last = offset
    pieces.append(code[last:])
    rules: list[CssRule] = []
    for style_tag, offset, css in tracer.style_blocks:
        for index, (selector, start, end) in enumerate(css_rules(css)):
            rules.append(
                CssRule(
                    id=len(rules),
                    style_tag=style_tag,
                    index=index,
                    selector=selector,
                    start_line=tracer.lines.line(offset + start),
                    end_line=tracer.lines.line(offset + end),
                )
            )
    return SourceMap(
        code=code,
        annotated="".join(pieces),
        tags=tracer.tags,
        rules=rules,
        runs_scripts=tracer.runs_scripts,
    )


# ---------------------------------------------------------------------------------------------
# CSS: style rules with their character spans


_GROUPING_AT_RULES = ("@media", "@supports", "@layer", "@container", "@document", "@scope")
#: what the scanner stops at: a comment, a string (both may run to the end of an unclosed text),
#: or one of ``{ } ;``; everything between tokens is plain text (selectors, declarations)
_CSS_TOKEN = re.compile(
    r"/\*[\s\S]*?(?:\*/|\Z)"
    r"|\"(?:\\[\s\S]?|[^\"\\])*\"?"
    r"|'(?:\\[\s\S]?|[^'\\])*'?"
    r"|[{};]"
)
_NON_SPACE = re.compile(r"\S")


def css_rules(css: str) -> list[tuple[str, int, int]]:
    """``(selector, start, end)`` of every style rule in ``css``, in source order.

    Rules inside grouping at-rules (``@media``, ``@supports``, ...) are included, in place;
    ``@font-face``, ``@keyframes``, ``@page`` blocks are not style rules and are skipped, as are
    comments and strings. ``start`` is the selector's first character, ``end`` the closing
    brace (or the last character of the text for an unclosed rule).

    One pass over the tokens with a stack of open blocks (a regular expression finds the tokens:
    this runs on every rendered page)."""
    out: list[tuple[str, int, int]] = []
    # one entry per open "{": the index in ``out`` of the rule it opened, GROUP (rules inside
    # are scanned) or SKIP (an at-rule's or a rule's inner block: only braces are counted)
    group, skip = -1, -2
    blocks: list[int] = []
    prelude_start: int | None = None  # first character of the text before the next "{"
    last = 0  # where the previous token ended
    for m in _CSS_TOKEN.finditer(css):
        at, token = m.start(), m.group()
        scanning = not blocks or blocks[-1] == group
        if scanning and prelude_start is None:
            text = _NON_SPACE.search(css, last, at)
            if text is not None:
                prelude_start = text.start()
            elif token[0] in "\"'":
                prelude_start = at
        last = m.end()
        if token == "{":
            if not scanning:
                blocks.append(skip)
                continue
            start = prelude_start if prelude_start is not None else at
            prelude = css[start:at].strip()
            prelude_start = None
            if prelude.startswith("@"):
                blocks.append(group if prelude.lower().startswith(_GROUPING_AT_RULES) else skip)
            elif prelude:
                blocks.append(len(out))
                out.append((" ".join(prelude.split()), start, -1))
            else:
                blocks.append(skip)
        elif token == "}":
            if blocks:
                closed = blocks.pop()
                if closed >= 0:
                    out[closed] = (out[closed][0], out[closed][1], at)
            if not blocks or blocks[-1] == group:
                prelude_start = None  # a closed block, or a stray brace
        elif token == ";" and scanning:
            prelude_start = None  # the end of an @import / @charset
    # rules left open run to the end of the text
    return [(s, a, b if b >= 0 else max(len(css) - 1, 0)) for s, a, b in out]


def normalise_selector(selector: str) -> str:
    """A selector in a form that survives the CSSOM's re-serialisation (for lining rules up).

    >>> normalise_selector("UL > li:Hover ,a[href='x']")
    'ul>li:hover,a[href=x]'
    """
    s = selector.lower().replace('"', "").replace("'", "").replace("::", ":")
    s = re.sub(r"\s*([>+~,()])\s*", r"\1", s)
    return " ".join(s.split())


# ---------------------------------------------------------------------------------------------
# The in-page walk's output -> Elements with source lines


def rules_for_page(smap: SourceMap) -> dict[str, list[list[int | str]]]:
    """The ``args.rules`` of the in-page walk: per <style> tag id, ``[rule id, selector]``."""
    return {
        str(tag): [[r.id, normalise_selector(r.selector)] for r in rules]
        for tag, rules in smap.rules_by_block().items()
    }


def _merge(ranges: list[LineRange]) -> list[LineRange]:
    """Sorted, overlapping or touching ranges joined."""
    out: list[LineRange] = []
    for a, b in sorted(set(ranges)):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def element_source(smap: SourceMap, raw: dict, tag_rules: dict[str, list[int]]) -> list[LineRange]:
    """The lines of one walked element or text run.

    A box: its markup from start tag to end tag, plus every matched CSS rule that sets a
    layout or colour property. A text run: its own text chunk's lines (the whole tag when the
    chunk cannot be told), plus, for the tag holding it and each inline tag between it and the
    nearest box (``<b>``, ``<a>``...), the start tag when it carries ``style=`` and the matched
    rules: the lines that wrote the text and styled it, not the whole container."""
    ranges: list[LineRange] = []
    tag = smap.tag(raw["tag"]) if raw.get("tag") is not None else None
    if raw.get("kind") == "text":
        index = raw.get("textIndex", -1)
        if tag is not None:
            if 0 <= index < len(tag.texts):
                ranges.append(tag.texts[index])
            else:
                ranges.append(tag.span)
        styled = raw.get("chain") or ([raw["tag"]] if tag is not None else [])
    else:
        if tag is not None:
            ranges.append(tag.span)
        styled = [raw["tag"]] if tag is not None else []
    for tag_id in styled:
        t = smap.tag(tag_id)
        if t is None:
            continue
        if t.has_style:
            ranges.append(t.start_tag)
        for rule_id in tag_rules.get(str(tag_id), ()):
            if 0 <= rule_id < len(smap.rules):
                r = smap.rules[rule_id]
                ranges.append((r.start_line, r.end_line))
    return _merge(ranges)
