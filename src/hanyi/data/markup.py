"""Cleaning inline markup and UI-string decorations out of training pairs.

Documentation catalogues carry reStructuredText, Markdown and HTML inline markup on both
sides (``code``, :func:`len`, *emph*, `a link <https://…>`_, [text](url), <b>…</b>).
A translator sees plain sentences at inference, so training pairs are made plain the
same way on both sides: the markup goes, the text it marks stays.

UI strings carry keyboard accelerators (``_File``, ``&Open``, Chinese ``文件(_F)``) and
printf/format placeholders (``%s``, ``%1``, ``{name}``, ``$var``). Accelerators are
removed; a pair with placeholders is dropped by the caller (see :func:`has_placeholder`),
since the model should not learn to emit them.
"""

from __future__ import annotations

import html
import re

# reStructuredText -----------------------------------------------------------------------
# :role:`title <target>` -> title;  :role:`~mod.func` -> func;  :role:`!x` / :role:`x` -> x
_RST_ROLE_TITLE = re.compile(r":[\w:.+-]+:`([^`<]+?)\s*<[^`>]*>`")
_RST_ROLE = re.compile(r":[\w:.+-]+:`([~!]?)([^`]+)`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`_{1,2}")  # `text <url>`_
_RST_REF = re.compile(r"`([^`]+)`_{1,2}(?!\w)")  # `text`_
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_SUBST = re.compile(r"\|(\w[\w -]*)\|")  # |version|
# Markdown ----------------------------------------------------------------------------
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
# both: **strong**, *emph*, __strong__ (not inside words: keeps snake_case and 2*3*4)
_STRONG = re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])"
                     r"|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_EMPH = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
# HTML --------------------------------------------------------------------------------
_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s+[^<>]*?)?/?>")
_RST_ESCAPED_SPACE = re.compile(r"\\ ")
_SPACES = re.compile(r"\s+")


def clean_markup(text: str) -> str:
    """Plain text of a reST / Markdown / HTML-ish paragraph (inline markup only)."""
    text = _RST_ROLE_TITLE.sub(r"\1", text)
    text = _RST_ROLE.sub(lambda m: _role_text(m.group(1), m.group(2)), text)
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_REF.sub(r"\1", text)
    text = _RST_LITERAL.sub(r"\1", text)
    text = _RST_SUBST.sub(r"\1", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    text = _STRONG.sub(lambda m: m.group(1) or m.group(2), text)
    text = _EMPH.sub(r"\1", text)
    text = html.unescape(_TAG.sub("", text))
    text = _RST_ESCAPED_SPACE.sub("", text)
    if text.endswith("::"):  # reST "paragraph::" introduces a literal block; shown as ":"
        text = text[:-1]
    return _SPACES.sub(" ", text).strip()


def _role_text(prefix: str, target: str) -> str:
    """What Sphinx shows for :role:`target`: ``~a.b.c`` shows ``c``; ``!x`` shows ``x``."""
    if prefix == "~":
        return target.rsplit(".", 1)[-1]
    return target


# UI strings ----------------------------------------------------------------------------
_ZH_ACCEL = re.compile(r"\s*[(（][_&][A-Za-z0-9][)）]")  # 文件(_F) / 打开(&O)
_ACCEL = re.compile(r"(?<![\w&])[_&](?=[A-Za-z0-9])")  # _File, &Open (not a&b, &&, &amp;)
_PLACEHOLDER = re.compile(
    r"%(?:\(\w+\))?[-+#0]*\d*(?:\.\d+)?[hlLqjzt]*[diouxXeEfFgGcrsap%]"  # printf
    r"|%\d+|\{\w*(?:[:!][^{}]*)?\}|\$\{?\w+\}?"  # Qt %1, Python {0}/{name}, shell $var
)


_CONTEXT = re.compile(r"^[\w+ -]+\^(?=\S)")  # gettext context prefix: race+female^Dwarf


def strip_accelerators(text: str) -> str:
    """``_File`` -> ``File``, ``&Open`` -> ``Open``, ``文件(_F)`` -> ``文件``, and a gettext
    context prefix ``race+female^Dwarf`` -> ``Dwarf``."""
    return _ACCEL.sub("", _ZH_ACCEL.sub("", _CONTEXT.sub("", text)))


def has_placeholder(text: str) -> bool:
    """True for text with a printf / Qt / format / shell placeholder (``%s``, ``%1``, ``{0}``)."""
    return _PLACEHOLDER.search(text.replace("%%", "")) is not None
