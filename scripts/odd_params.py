"""Generate the parameter tables of docs/ODD.md from the code.

Prints two Markdown tables: every mechanism parameter of ``sim/parameters.py`` (name, default,
range, group, source, description) and the fixed structural constants that live as module
constants in ``sim/`` and ``agents/``. With ``--write`` it replaces the text between the markers
``<!-- PARAMS:BEGIN -->`` / ``<!-- PARAMS:END -->`` and ``<!-- CONSTANTS:BEGIN -->`` /
``<!-- CONSTANTS:END -->`` in docs/ODD.md; with ``--check`` it exits with status 1 when the
document is out of date. The parameter defaults are recalibrated from time to time, so these
tables must never be typed by hand.

Usage::

    python scripts/odd_params.py            # print the tables
    python scripts/odd_params.py --write    # update docs/ODD.md in place
    python scripts/odd_params.py --check    # exit 1 if docs/ODD.md is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents import leader as _leader  # noqa: E402
from agents import supervisor as _supervisor  # noqa: E402
from sim import calendar as _calendar  # noqa: E402
from sim import model as _model  # noqa: E402
from sim import steering as _steering  # noqa: E402
from sim.parameters import PARAMETERS  # noqa: E402
from sim.processes import buffers as _buffers  # noqa: E402
from sim.processes import closure as _closure  # noqa: E402
from sim.processes import partnership as _partnership  # noqa: E402
from sim.processes import phase as _phase  # noqa: E402
from sim.processes import referrals as _referrals  # noqa: E402

ODD_PATH = ROOT / "docs" / "ODD.md"
PARAMS_MARKERS = ("<!-- PARAMS:BEGIN -->", "<!-- PARAMS:END -->")
CONSTANTS_MARKERS = ("<!-- CONSTANTS:BEGIN -->", "<!-- CONSTANTS:END -->")

# Fixed constants documented in the ODD: (module, attribute, kind, what it means).
# kind: "value" (printed as is) or "month" (a calendar month index, printed as YYYY-MM).
CONSTANTS = (
    (_buffers, "UNDER_USE_TARGET", "value", "Utilisation below which a team counts as under-used"),
    (_buffers, "REFERENCE_COST", "value", "Margin unit: the reference team cost (GBP a year)"),
    (_buffers, "REFERENCE_POPULATION", "value", "Margin unit: the reference authority's population"),
    (_leader, "LINE_OF_MANAGEMENT", "value", "The council's line of management (a patron covers those below)"),
    (_referrals, "REFERRER_AGENCIES", "value",
     "Referrer agencies and their shares (new referrers; expected referral shares)"),
    (_partnership, "HEALTH_AGENCIES", "value", "Agencies preferred as the co-funding partner"),
    (_leader, "SENIOR_ROLES", "value", "Leader roles that can propose cuts"),
    (_model, "STREAMS", "value", "Named random streams, in spawn order"),
    (_closure, "CLOSURE_CAUSES", "value", "Recorded closure causes"),
    (_phase, "PHASES", "value", "Phases of the service, in order"),
    (_leader, "ROLE_INFLUENCE", "value", "Leader influence by role"),
    (_leader, "CHILDRENS_SERVICES", "value",
     "Roles whose exits respond to inspection and hostility"),
    (_supervisor, "STYLE_SUPPORT", "value",
     "Factor on therapists' strain recovery by supervisor style"),
    (_steering, "WEIGHTS", "value", "Weights of the partnership's weighted geometric mean"),
    (_steering, "CHAIR_QUALITY", "value", "Chair component of partnership by who chairs"),
    (_steering, "FLOOR", "value", "Floor of each partnership component (and of an empty group)"),
    (_calendar, "GRANT_SHARES", "value",
     "Grant share of cost in the go-live financial year and the two after it"),
    (_calendar, "AUSTERITY_START", "month", "First month of austerity"),
    (_calendar, "REGIONAL_SUPPORT_END", "month", "Regional support structures end"),
    (_calendar, "COMPETING_PROGRAMME", "month", "Competing programme (Troubled Families) starts"),
    (_calendar, "TRIAL_START", "month", "National trial starts randomising"),
    (_calendar, "TRIAL_END", "month", "National trial stops randomising"),
    (_calendar, "TRIAL_RESULTS", "month", "National trial's (null) result published"),
    (_calendar, "TRIAL_MIN_MONTHS", "value",
     "Months a team must have run before it randomises"),
)


def _num(value: float, integer: bool = False) -> str:
    if integer:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(str(v) for v in value))
    if isinstance(value, tuple | list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return _value(dict(value))  # pairs, e.g. (("social_care", 0.7), ...)
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def _month(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


def parameter_table() -> str:
    """Return the Markdown table of every mechanism parameter, in the order of the code."""
    rows = ["| name | default | prior range | group | source | description | why this range |",
            "|---|---|---|---|---|---|---|"]
    for p in PARAMETERS:
        shape = " (log)" if p.shape == "log" else ""
        rows.append(
            f"| `{p.name}` | {_num(p.default, p.integer)} "
            f"| {_num(p.low, p.integer)} to {_num(p.high, p.integer)}{shape} | {_cell(p.group)} "
            f"| {_cell(p.source)} | {_cell(p.label)} | {_cell(p.reason)} |")
    return "\n".join(rows)


def constants_table() -> str:
    """Return the Markdown table of the fixed structural constants."""
    rows = ["| constant | where | value | meaning |", "|---|---|---|---|"]
    for module, name, kind, meaning in CONSTANTS:
        value = getattr(module, name)
        shown = _month(value) if kind == "month" else _value(value)
        where = module.__name__.replace(".", "/") + ".py"
        rows.append(f"| `{name}` | `{where}` | {_cell(shown)} | {_cell(meaning)} |")
    return "\n".join(rows)


def blocks() -> dict[tuple[str, str], str]:
    """Return the generated text for each pair of markers."""
    return {PARAMS_MARKERS: parameter_table(), CONSTANTS_MARKERS: constants_table()}


def extract(text: str, markers: tuple[str, str]) -> str:
    """Return the text between a pair of markers (stripped).

    Raises:
        ValueError: If the markers are missing or out of order.

    """
    begin, end = markers
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise ValueError(f"markers {begin} ... {end} not found in order")
    return text[i + len(begin):j].strip()


def render(text: str) -> str:
    """Return ``text`` with every generated block replaced by its current content."""
    for (begin, end), body in blocks().items():
        extract(text, (begin, end))  # validates the markers
        i = text.find(begin) + len(begin)
        j = text.find(end)
        text = text[:i] + "\n" + body + "\n" + text[j:]
    return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="update docs/ODD.md in place")
    group.add_argument("--check", action="store_true", help="exit 1 if docs/ODD.md is stale")
    ap.add_argument("--path", type=Path, default=ODD_PATH, help="document to update or check")
    args = ap.parse_args(argv)
    if not (args.write or args.check):
        print(parameter_table())
        print()
        print(constants_table())
        return 0
    text = args.path.read_text(encoding="utf-8")
    try:
        new = render(text)
    except ValueError as exc:
        print(f"{args.path}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"{args.path}: generated tables are out of date; run "
                  f"python scripts/odd_params.py --write", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
        print(f"updated {args.path}")
    else:
        print(f"{args.path} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
