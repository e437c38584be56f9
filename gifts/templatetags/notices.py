"""Notices are written once, in the language of the moment they happened (a worker, the sweep), and
read later by someone whose page may be in another. `{{ text|in_page_language }}` finds the
message id the text was made from (the text itself, or a message id with placeholders whose
fixed parts match it) and gives it again in the page's language with the same values."""

from __future__ import annotations

import re
from functools import lru_cache

from django import template
from django.utils import translation
from django.utils.translation import trans_real

register = template.Library()

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdf]")
CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=8)
def _patterns(language: str) -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    catalog = trans_real.translation(language)._catalog  # noqa: SLF001 (the merged catalogue, msgid -> msgstr)
    exact: dict[str, str] = {}
    patterns: list[tuple[int, re.Pattern, str]] = []
    for msgid, msgstr in catalog.items():
        if not isinstance(msgid, str) or not CJK.search(msgid) or not msgstr:
            continue
        names = PLACEHOLDER.findall(msgid)
        if not names:
            exact[msgid] = msgstr
            continue
        if len(set(names)) != len(names):
            continue
        parts = PLACEHOLDER.split(msgid)  # literal, name, literal, name, ...
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        fixed = sum(len(p) for p in parts[::2])
        patterns.append((fixed, re.compile(f"^{regex}$", re.S), msgstr))
    patterns.sort(key=lambda item: -item[0])
    return exact, [(pattern, msgstr) for _, pattern, msgstr in patterns]


def in_language(text: str, language: str | None) -> str:
    if not text or not language or not CJK.search(text):
        return text
    exact, patterns = _patterns(language)
    if text in exact:
        return exact[text]
    for pattern, msgstr in patterns:
        match = pattern.match(text)
        if match:
            # A value may itself be a message (a refund's reason): in the page's language too.
            values = {k: exact.get(v, v) for k, v in match.groupdict().items()}
            return PLACEHOLDER.sub(lambda m, v=values: v.get(m.group(1), m.group(0)), msgstr)
    return text


@register.filter
def in_page_language(text: str) -> str:
    language = translation.get_language()
    if not language or language.startswith("zh"):
        return text  # written in Chinese, the source language: nothing to look up
    return in_language(text, language)


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int:
    """How many notices the signed-in person has not read (the navigation's badge)."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return user.notifications.filter(read_at__isnull=True).count()
