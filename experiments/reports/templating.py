"""The jinja2 environment of the HTML reports, and the one place where HTML is marked safe.

Templates live in ``experiments/reports/templates/`` (shipped as package data) and every page
extends ``base.html.j2`` (head, CSS, header with the title, footer with the provenance).
Autoescaping is on for every template and undefined variables raise
(:class:`jinja2.StrictUndefined`), so values are passed raw and a missing one is an error.

Markup that must not be escaped passes through :func:`trusted_html`, the only place that
builds :class:`markupsafe.Markup` from a string. Its callers are this module's
:func:`render_fragment` (a fragment jinja rendered, already escaped) and
:func:`experiments.reports.report.write_report` for its ``extra_sections`` (HTML built by a job,
e.g. a pandas table). Figures are not markup at all: :func:`figure` returns the PNG's base64
text and its alt text for the ``figure`` macro.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import jinja2
from markupsafe import Markup


@dataclass(frozen=True)
class Figure:
    """A PNG to embed: its alt text and its bytes in base64 (rendered by the ``figure`` macro)."""

    alt: str
    data: str


@cache
def environment() -> jinja2.Environment:
    """The shared environment: package templates, autoescape on, StrictUndefined.

    Numbers reach the templates already formatted (:mod:`experiments.reports.formatters`).
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("experiments.reports", "templates"),
        autoescape=True,  # every template is HTML (the CSS is included into the page)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["version"] = package_version()
    return env


def package_version() -> str:
    """The installed version of mst-sustain, or ``""`` in a plain checkout."""
    try:
        return metadata.version("mst-sustain")
    except metadata.PackageNotFoundError:
        return ""


def provenance(manifest: dict | None) -> str:
    """The footer's provenance words from a manifest: git commit and root seed, where known."""
    m = manifest or {}
    parts = [f"git {str(m['git_commit'])[:12]}" if m.get("git_commit") else "",
             f"root seed {m['root_seed']}" if m.get("root_seed") is not None else ""]
    return ", ".join(p for p in parts if p)


def trusted_html(fragment: str) -> Markup:
    """Mark ``fragment`` as HTML that the templates insert unescaped.

    The only place in the reports that marks text safe: give it only HTML that was escaped
    where it was built (a rendered template, a pandas ``to_html`` table), never raw values.
    """
    return Markup(fragment)


def render_page(template: str, **context) -> str:
    """Render a page template (one that extends ``base.html.j2``) to a string."""
    return environment().get_template(template).render(**context)


def render_fragment(template: str, **context) -> Markup:
    """Render a fragment template; the result can go into another template as it is."""
    return trusted_html(environment().get_template(template).render(**context))


def figure(path: Path, alt: str) -> Figure:
    """The PNG at ``path`` as a :class:`Figure` for the ``figure`` macro."""
    return Figure(alt=alt, data=base64.b64encode(Path(path).read_bytes()).decode("ascii"))


def embed_png(path: Path, alt: str) -> Markup:
    """An ``<img>`` with the PNG at ``path`` embedded as a data URI (rendered, safe HTML)."""
    return render_fragment("figure.html.j2", fig=figure(path, alt))
