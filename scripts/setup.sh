#!/usr/bin/env bash
# One-time, idempotent set-up: .venv with the pinned packages, the .torch link that
# .cargo/config.toml points LIBTORCH at, and the datasets under data/ (verified by sha256).
# A second call finds everything in place and returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
req=scripts/requirements.txt
stamp=$venv/.repro-requirements

if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
fi
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
    echo "setup: installing $(grep -vc '^#' "$req") pinned packages into $venv (torch is ~4.6 GB)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
fi

torch_dir=$(ls -d "$venv"/lib/python3*/site-packages/torch 2>/dev/null | head -n 1)
if [ -z "$torch_dir" ]; then
    echo "setup: torch is not installed in $venv; delete $stamp and rerun" >&2
    exit 1
fi
if [ "$(readlink .torch 2>/dev/null)" != "$torch_dir" ]; then
    ln -sfn "$torch_dir" .torch
fi

exec scripts/data.sh
