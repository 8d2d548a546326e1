"""Docstring markup that docutils misreads, mended for the docs build only.

The package's docstrings are written to be read in a terminal (``help()``) as much as rendered;
a few use plain-text conventions that reStructuredText reads otherwise and that would fail a
``-W`` build. Rather than edit modules that are under active development, the build mends them
as autodoc reads them (``autodoc-process-docstring``, before numpydoc parses them). Each rule
is narrow and says which objects it is for; the source is unchanged.

1. ``|x - y|`` (an absolute value) is a substitution reference in reStructuredText: the bars are
   escaped, in every docstring (the package defines no substitutions).
2. A class docstring that lists its fields as ``name : text`` lines, continued indented, with
   no section header, becomes a definition list (the field names as terms), instead of a
   paragraph whose continuation lines docutils reads as stray block quotes
   (:data:`HEADERLESS_FIELDS`).
3. A module docstring whose indented blocks are aligned plain text (usage lines, a two-column
   list) shows those blocks verbatim, as literal blocks (:data:`VERBATIM_BLOCKS`,
   :data:`VERBATIM_DEFINITIONS`).
4. A relative module reference, ``:mod:`.backtest``` in ``ladderfit.analysis.calibration``, is
   ambiguous to Sphinx (``ladderfit.analysis.backtest`` and ``ladderfit.cli.backtest``): it is
   made absolute against the package of the object's module, as Python would resolve it.
5. Literal replacements for single spots (:data:`REPLACE`): the footnote star of the schema
   table, read as the start of an emphasis.
"""

from __future__ import annotations

import re

#: Classes whose docstring is a headerless ``name : description`` list of their fields.
HEADERLESS_FIELDS = {
    "ladderfit.FitConfig",
    "ladderfit.model.config.FitConfig",
    "ladderfit.analysis.design.DesignResult",
    "ladderfit.analysis.design.table.DesignResult",
}
#: Modules whose indented blocks (after a blank line) are aligned plain text, shown as literal blocks.
VERBATIM_BLOCKS = {"ladderfit.cli.plot"}
#: Modules whose definition lists have aligned plain-text bodies, shown as literal blocks.
VERBATIM_DEFINITIONS = {"ladderfit.model.least_squares"}
#: object -> ((old, new), ...): exact replacements in its docstring lines.
REPLACE = {
    "ladderfit.data.schema": (("no*      task loss", "no\\*     task loss"), ("(> 0). *Needed", "(> 0). \\*Needed")),
}

ABS = re.compile(r"(?<![\\`|])\|([^|`\n]{1,40}?)\|(?![`|_])")
FIELD = re.compile(r"^\w[\w, ]* : \S")
SECTION = re.compile(r"^-{3,}\s*$")


def _escape_abs(line: str) -> str:
    # leave ``inline literals`` alone: split on them, mend the text between
    parts = re.split(r"(``.*?``)", line)
    return "".join(p if p.startswith("``") else ABS.sub(r"\\|\1\\|", p) for p in parts)


def _fields_as_definitions(lines: list[str]) -> None:
    """``name : text`` lines (continued indented) become a definition list: ``name`` as the term,
    the text as its definition."""
    if any(SECTION.match(ln) for ln in lines):
        return
    out: list[str] = []
    for ln in lines:
        if FIELD.match(ln):
            name, text = ln.split(" : ", 1)
            if out and out[-1].strip() and not FIELD.match(out[-1]) and not out[-1].startswith(" "):
                out.append("")
            out += [f"``{name.strip()}``", f"    {text}"]
        else:
            out.append(ln)
    lines[:] = out


def _verbatim(lines: list[str]) -> None:
    """Make every indented block that follows a blank line a literal block (``::`` before it)."""
    i = 1
    while i < len(lines):
        starts = lines[i].startswith((" ", "\t")) and lines[i].strip() and not lines[i - 1].strip()
        if starts:
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j >= 0 and not lines[j].rstrip().endswith("::") and not lines[j].startswith((" ", "\t")):
                lines[i - 1 : i] = ["", "::", ""]
                i += 2
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                i += 1
        i += 1


def _definition_bodies_verbatim(lines: list[str]) -> None:
    """A definition list item whose body is aligned text (lines indented deeper than its first):
    its body becomes a literal block."""
    indent = lambda ln: len(ln) - len(ln.lstrip())  # noqa: E731
    i = 0
    while i < len(lines) - 1:
        term, body = lines[i], lines[i + 1]
        if term.strip() and not term.startswith(" ") and body.startswith("    ") and not term.rstrip().endswith("::"):
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith(" ")):
                j += 1
            if any(indent(ln) > indent(body) for ln in lines[i + 1 : j] if ln.strip()):
                lines[i] = term.rstrip() + "::"
                lines.insert(i + 1, "")
                j += 1
            i = j
            continue
        i += 1


RELATIVE_MOD = re.compile(r":mod:`(~?)\.(\w[\w.]*)`")


def _package_of(what: str, name: str) -> str:
    """The package a relative import in the object's module starts from."""
    parts = name.split(".")
    module = parts if what == "module" else parts[:-1] if what in ("function", "class", "exception", "data") else parts[:-2]
    import sys

    mod = sys.modules.get(".".join(module))
    if mod is not None and getattr(mod, "__path__", None) is not None:
        return ""  # a package's own docstring: Sphinx resolves ``.name`` against it already
    return ".".join(module[:-1])


def process(app, what, name, obj, options, lines: list[str]) -> None:
    package = _package_of(what, name)
    if package:
        lines[:] = [RELATIVE_MOD.sub(lambda m: f":mod:`{m[1]}{package}.{m[2]}`", ln) for ln in lines]
    for old, new in REPLACE.get(name, ()):
        lines[:] = [ln.replace(old, new) for ln in lines]
    if name in HEADERLESS_FIELDS:
        _fields_as_definitions(lines)
    if name in VERBATIM_BLOCKS:
        _verbatim(lines)
    if name in VERBATIM_DEFINITIONS:
        _definition_bodies_verbatim(lines)
    lines[:] = [_escape_abs(ln) for ln in lines]


def setup(app):
    app.connect("autodoc-process-docstring", process, priority=100)  # before numpydoc (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
