"""Write (or check) ``docs/scenario.schema.json``, the JSON Schema of scenario files.

The schema is generated from the pydantic models of ``sim/scenario.py``; never edit the JSON by
hand. Editors use it through the ``#:schema`` directive at the top of a scenario (Taplo, VS Code
Even Better TOML)::

    python scripts/scenario_schema.py          # write docs/scenario.schema.json
    python scripts/scenario_schema.py --check  # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.scenario import SCHEMA_PATH, scenario_json_schema_text  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Write the schema, or with ``--check`` compare it with the committed file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the committed file")
    args = parser.parse_args(argv)
    path = ROOT / SCHEMA_PATH
    text = scenario_json_schema_text()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python scripts/scenario_schema.py",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH} ({len(text):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
