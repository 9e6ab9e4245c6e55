# Sourced by scripts/*: make sure .venv exists and has the project installed.
# Usage: ensure_venv base|dev|bench
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRADEENGINE_VENV:-$ROOT/.venv}"

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    echo "tradeengine needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

ensure_venv() {
    local extra="$1" stamp want
    if [ ! -x "$VENV/bin/python" ]; then
        echo "creating $VENV" >&2
        "$(find_python)" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    fi
    stamp="$VENV/.tradeengine-$extra"
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
    # Every extra includes the base install: any current stamp satisfies "base".
    if [ "$extra" = base ]; then
        for other in "$VENV"/.tradeengine-*; do
            [ "$(cat "$other" 2>/dev/null)" = "$want" ] && return 0
        done
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "installing tradeengine[$extra] into $VENV" >&2
        if [ "$extra" = base ]; then spec="$ROOT"; else spec="$ROOT[$extra]"; fi
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
        echo "$want" > "$stamp"
    fi
    ensure_native
}

# Compile the hot modules (engine/native.py) when mypyc is installed (the dev and bench
# extras), a C compiler is there, and no build matches the sources; a failed build leaves pure Python in use.
# TRADEENGINE_NATIVE=0 skips it.
ensure_native() {
    [ "${TRADEENGINE_NATIVE:-1}" != 0 ] || return 0
    "$VENV/bin/python" -c 'import mypyc' 2>/dev/null || return 0
    command -v "${CC:-cc}" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || return 0
    (cd "$ROOT" && "$VENV/bin/python" -m engine.cli native build --if-stale >&2) || true
}
