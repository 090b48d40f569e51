#!/usr/bin/env bash
# Create a virtual environment with Python >= 3.12 and install the project into it.
# Usage: scripts/bootstrap.sh [VENV_DIR]
set -euo pipefail
venv="${1:-.venv}"

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    candidates+=(python3.12 python3.13 python3.14 python3 python)
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root="$(pyenv root)"
        for v in "$root"/versions/3.1[2-9]*; do
            [ -x "$v/bin/python" ] && candidates+=("$v/bin/python")
        done
    fi
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$venv/bin/python" ]; then
    if ! py="$(find_python)"; then
        echo "mst-sustain needs Python >= 3.12, and none was found." >&2
        echo "Install one (e.g. 'pyenv install 3.12', 'apt-get install python3.12', or from python.org)," >&2
        echo "or point to it with PYTHON=/path/to/python3.12 make ..." >&2
        exit 1
    fi
    echo "Creating $venv with $py ($("$py" --version))"
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[dev]" -c constraints.txt
echo "Environment ready in $venv"
