"""Real text in, real text out: the layer above :mod:`hanyi.inference`.

A :class:`~hanyi.inference.Translator` translates *sentences*. What people paste is lines,
paragraphs and documents; :mod:`hanyi.documents.text` cuts them into sentences, translates
every sentence of a request in one batch, and puts the translation back together with the
layout kept (line breaks, blank lines, indentation) and the sentences joined the way the
target language joins them. :mod:`hanyi.documents.formats` translates whole documents —
Markdown and HTML with their markup kept (markdown_doc.py, html_doc.py, markup.py),
subtitles, gettext catalogues — with all their text units in one call.
"""

from hanyi.documents.text import translate_texts

__all__ = ["translate_texts"]
