#!/usr/bin/env bash
# Create a virtual environment with Python >= 3.12 and install the project into it.
# Usage: scripts/bootstrap.sh [VENV_DIR]
set -euo pipefail
venv="${1:-.venv}"

# Preference: $PYTHON if given; else the newest minor version that every pinned dependency
# (constraints.txt) supports and the test suite and golden baseline have been checked on (3.13,
# then 3.12: the model runs about 10% faster on 3.13 with identical outputs); then any >= 3.12.
PREFERRED=(3.13 3.12)

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    local root=""
    command -v pyenv >/dev/null 2>&1 && root="$(pyenv root)"
    for minor in "${PREFERRED[@]}"; do
        candidates+=("python$minor")
        if [ -n "$root" ]; then
            for v in "$root"/versions/"$minor".*; do
                [ -x "$v/bin/python" ] && candidates+=("$v/bin/python")
            done
        fi
    done
    candidates+=(python3.14 python3 python)
    if [ -n "$root" ]; then
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
