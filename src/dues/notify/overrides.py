"""An organization's own wording for a message: the restricted engine that renders it, the
check that refuses what it must not do, and the file's wording as a starting point.

An override is Django template text typed by an owner or manager, so it is rendered by
its own ``Engine``, not the project's:

- no loaders, so nothing can read a file (``{% include %}`` and ``{% extends %}`` are not
  even tags here);
- no libraries to ``{% load %}`` and, as builtins, only the tags in ``ALLOWED_TAGS`` and
  the default filters less ``DENIED_FILTERS`` (no ``|safe``: HTML stays escaped; nothing
  that reads the time: the clock is injected);
- only the variables the template's documented context names (``notify.catalog``).

An override is written in one language, so it carries no translation tags. The HTML part
is the email's body only: the file ``email.html`` of every template fills the ``content``
block of ``notify/email_base.html`` (greeting, card, the gym's name), and an override
fills the same block (``notify/email_override.html``), so the layout stays the same.
Text parts render with auto-escaping off, the HTML part with it on, as the files do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import (
    FilterExpression,
    Lexer,
    Node,
    NodeList,
    Token,
    TokenType,
    VariableNode,
)
from django.template.base import Variable as TemplateVariable
from django.template.defaulttags import FilterNode, FirstOfNode, ForNode, IfNode, WithNode
from django.template.loader import get_template
from django.utils import translation

from dues.notify.models import TemplatePart

# Which file each part replaces, in ``templates/notify/<template>/``.
PART_FILES: dict[str, str] = {
    TemplatePart.SUBJECT: "subject.txt",
    TemplatePart.EMAIL_TEXT: "email.txt",
    TemplatePart.EMAIL_HTML: "email.html",
    TemplatePart.SMS: "sms.txt",
    TemplatePart.IN_APP: "in_app.txt",
    TemplatePart.CALL: "call.txt",
}
HTML_PARTS = frozenset({TemplatePart.EMAIL_HTML})

ALLOWED_TAGS = ("if", "for", "with", "firstof", "comment", "spaceless", "filter")
# The end and middle tags the allowed ones parse themselves.
_INNER_TAGS = frozenset(
    {
        "elif",
        "else",
        "endif",
        "empty",
        "endfor",
        "endwith",
        "endcomment",
        "endspaceless",
        "endfilter",
    }
)
# Refused with a reason of their own (any other tag: "not allowed" and the list above).
_TAG_REASONS = {
    "load": "only the built-in tags and filters can be used",
    "debug": "it would show every value the message gets",
    "include": "a message cannot read other files",
    "extends": "a message cannot read other files",
    "ssi": "a message cannot read other files",
    "block": "the email's layout is fixed; write the body only",
    "autoescape": "HTML is always escaped in the HTML part and never in text parts",
    "now": "messages take dates from their variables",
}
DENIED_FILTERS = {
    "safe": "it would turn off escaping",
    "safeseq": "it would turn off escaping",
    "json_script": "a message has no scripts",
    "pprint": "it shows Python internals",
    "timesince": "messages take dates from their variables",
    "timeuntil": "messages take dates from their variables",
}

register = Library()
for _name in ALLOWED_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])
for _name, _filter in defaultfilters.register.filters.items():
    if _name not in DENIED_FILTERS:
        register.filter(_name, _filter)


class _RestrictedEngine(Engine):
    # Not Django's defaults (they bring {% include %}, {% load %}, {% debug %}, ...):
    # only this module's ``register``.
    default_builtins: ClassVar[list[str]] = []


ENGINE = _RestrictedEngine(loaders=[], libraries={}, builtins=[__name__], autoescape=True)


class OverrideError(ValueError):
    """The text cannot be used; ``problems`` says why, each with its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def override_check(body: str, *, variables: Iterable[str], html: bool = False) -> Template:
    """The compiled override, or ``OverrideError`` naming each problem and its line:
    a tag or filter that is not allowed, bad syntax, a variable not in ``variables``, and
    in HTML, anything that would run (scripts, frames, event handlers, ``javascript:``)."""
    problems = list(_tag_problems(body))
    if html:
        problems += _html_problems(body)
    if problems:
        raise OverrideError(problems)
    try:
        compiled = Template(body, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise OverrideError([_syntax_problem(exc)]) from exc
    problems = list(_variable_problems(compiled.nodelist, frozenset(variables)))
    if problems:
        raise OverrideError(problems)
    return compiled


def override_render(body: str | Template, part: str, context: dict[str, Any]) -> str:
    """Render an override (already checked when it was saved) with a message's context."""
    compiled = body if isinstance(body, Template) else Template(body, engine=ENGINE)
    return compiled.render(Context(context, autoescape=part in HTML_PARTS))


def _line(token: Token | None) -> str:
    return f"Line {token.lineno}: " if token is not None else ""


def _tag_problems(body: str) -> Iterator[str]:
    for token in Lexer(body).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        name = token.contents.split()[0] if token.contents.split() else ""
        if name in ALLOWED_TAGS or name in _INNER_TAGS:
            continue
        if name.startswith("end"):
            continue  # its opening tag is the one named (or a syntax error says it is stray)
        reason = _TAG_REASONS.get(name)
        if reason is None:
            reason = "the tags you can use are " + ", ".join(ALLOWED_TAGS)
        yield f"{_line(token)}{{% {name} %}} is not allowed: {reason}."


# Email clients do not run these, and spam filters hold them against the sender.
_ACTIVE_HTML = re.compile(
    r"<\s*(script|iframe|object|embed|form|base|meta)\b|<[^>]*\son\w+\s*=|javascript\s*:",
    re.IGNORECASE,
)


def _html_problems(body: str) -> list[str]:
    return [
        f"Line {number}: {_shown(match.group(0))} is not allowed: an email's HTML "
        "cannot run anything (no scripts, frames, forms or event handlers)."
        for number, line in enumerate(body.splitlines(), start=1)
        if (match := _ACTIVE_HTML.search(line))
    ]


def _shown(html: str) -> str:
    return repr(html if len(html) <= 40 else "…" + html[-40:])


_INVALID_FILTER = re.compile(r"^Invalid filter: '(\w+)'")


def _syntax_problem(exc: TemplateSyntaxError) -> str:
    message = str(exc)
    token: Token | None = getattr(exc, "token", None)
    denied = _INVALID_FILTER.match(message)
    if denied and denied.group(1) in DENIED_FILTERS:
        name = denied.group(1)
        message = f"the |{name} filter is not allowed: {DENIED_FILTERS[name]}."
    if token is None or re.search(r"\bline \d+", message):
        return message
    return f"{_line(token)}{message}"


def _variable_problems(nodelist: Iterable[Any], known: frozenset[str]) -> Iterator[str]:
    """Each variable named that is not in ``known`` (nor made by ``for``/``with``)."""
    for node in nodelist:
        yield from _node_problems(node, known)


def _node_problems(node: Node, known: frozenset[str]) -> Iterator[str]:
    token: Token | None = getattr(node, "token", None)

    def check(expression: Any, scope: frozenset[str] = known) -> Iterator[str]:
        for name in _names(expression):
            if name not in scope:
                yield (
                    f"{_line(token)}{{{{ {name} }}}} is not a variable of this message; "
                    f"it has {', '.join(sorted(known))}."
                )

    if isinstance(node, VariableNode):
        yield from check(node.filter_expression)
    elif isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            yield from check(condition)
            yield from _variable_problems(nodelist, known)
    elif isinstance(node, ForNode):
        yield from check(node.sequence)
        inner = known | set(node.loopvars) | {"forloop"}
        yield from _variable_problems(node.nodelist_loop, inner)
        yield from _variable_problems(node.nodelist_empty, known)
    elif isinstance(node, WithNode):
        for value in node.extra_context.values():
            yield from check(value)
        yield from _variable_problems(node.nodelist, known | set(node.extra_context))
    elif isinstance(node, FirstOfNode):
        for value in node.vars:
            yield from check(value)
    elif isinstance(node, FilterNode):
        # The filtered text is the variable ``var``; only the filters' arguments are names.
        yield from check(node.filter_expr, known | {"var"})
        yield from _variable_problems(node.nodelist, known)
    else:
        for attr in getattr(node, "child_nodelists", ()):
            yield from _variable_problems(getattr(node, attr, None) or NodeList(), known)


def _names(expression: Any) -> Iterator[str]:
    """The first name of every variable in a filter expression or an ``if`` condition."""
    if expression is None:
        return
    if isinstance(expression, FilterExpression):
        yield from _names(expression.var)
        for _func, args in expression.filters:
            for lookup, arg in args:
                if lookup:
                    yield from _names(arg)
    elif isinstance(expression, TemplateVariable):
        if expression.lookups:
            yield expression.lookups[0]
    else:  # an ``if`` condition: a literal (``.value``) or an operator (``.first``, ``.second``)
        for attr in ("value", "first", "second"):
            yield from _names(getattr(expression, attr, None))


# --- the file's wording, as a starting point --------------------------------------------------


class _Unsupported(ValueError):
    """A file uses a tag the conversion does not know (it would need a new rule here)."""


def default_source(template: str, part: str, language: str) -> str:
    """What the file of ``part`` says in ``language``, as override text: the translation
    tags replaced by their translation (the variables kept), included files inlined, the
    HTML email's body block only. Saved unchanged, it renders as the file does."""
    with translation.override(language):
        tokens = _file_tokens(f"notify/{template}/{PART_FILES[part]}")
        if part in HTML_PARTS:
            tokens = _content_block(tokens)
        return "".join(_convert(tokens))


def _file_tokens(name: str) -> list[Token]:
    source: str = get_template(name).template.source  # type: ignore[attr-defined]
    return Lexer(source).tokenize()


def _content_block(tokens: list[Token]) -> list[Token]:
    """The tokens inside ``{% block content %}`` (the layout is ``email_base.html``'s)."""
    inside: list[Token] = []
    depth = 0
    for token in tokens:
        words = token.split_contents() if token.token_type == TokenType.BLOCK else []
        if depth == 0:
            if words[:2] == ["block", "content"]:
                depth = 1
            continue
        if words and words[0] == "block":
            depth += 1
        elif words and words[0] == "endblock":
            depth -= 1
            if depth == 0:
                return inside
        inside.append(token)
    raise _Unsupported("an HTML email without a content block")


_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


def _convert(tokens: list[Token]) -> Iterator[str]:
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token.token_type == TokenType.TEXT:
            yield token.contents
        elif token.token_type == TokenType.VAR:
            yield f"{{{{ {token.contents} }}}}"
        elif token.token_type == TokenType.COMMENT:
            continue
        else:
            words = token.split_contents()
            tag = words[0]
            if tag in ("load", "autoescape", "endautoescape"):
                continue  # i18n is not needed; escaping is the part's
            if tag in ("translate", "trans"):
                yield _translate(words)
            elif tag in ("blocktranslate", "blocktrans"):
                end = position
                while tokens[end].token_type != TokenType.BLOCK or tokens[end].contents.split()[
                    0
                ] not in ("endblocktranslate", "endblocktrans"):
                    end += 1
                yield _blocktranslate(words, tokens[position:end])
                position = end + 1
            elif tag == "include" and len(words) == 2 and words[1][:1] in "\"'":
                yield from _convert(_file_tokens(words[1][1:-1]))
            else:
                yield f"{{% {token.contents} %}}"


def _translate(words: list[str]) -> str:
    if len(words) != 2 or words[1][:1] not in "\"'":
        raise _Unsupported(" ".join(words))
    msgid = words[1][1:-1].replace("%", "%%")
    return translation.gettext(msgid).replace("%%", "%")


def _blocktranslate(words: list[str], inner: list[Token]) -> str:
    options = words[1:]
    if any(option != "trimmed" for option in options):
        raise _Unsupported(" ".join(words))
    parts: list[str] = []
    names: list[str] = []
    for token in inner:
        if token.token_type == TokenType.TEXT:
            parts.append(token.contents.replace("%", "%%"))
        elif token.token_type == TokenType.VAR:
            parts.append(f"%({token.contents})s")
            names.append(token.contents)
        else:
            raise _Unsupported(token.contents)
    msgid = "".join(parts)
    if options:
        msgid = translation.trim_whitespace(msgid)
    translated = translation.gettext(msgid)
    try:
        translated % dict.fromkeys(names, "")
    except (KeyError, ValueError):
        translated = msgid  # as Django does: a broken translation falls back to the source

    def back(match: re.Match[str]) -> str:
        return "%" if match.group(1) is None else f"{{{{ {match.group(1)} }}}}"

    return _PLACEHOLDER.sub(back, translated)
