#!/usr/bin/env bash
# Creates the catalogued datasets under data/ from pinned packages and checks their sha256
# (the same digests as src/data/catalog.rs). Nothing here or at run time downloads data.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data

check() { # file expected-sha256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

mnist1d_sha=$(grep -A1 'name: "mnist1d.npz"' src/data/catalog.rs | sed -n 's/.*sha256: "\([0-9a-f]*\)".*/\1/p')
if ! check data/mnist1d.npz "$mnist1d_sha"; then
    echo "data: generating data/mnist1d.npz with the pinned mnist1d package"
    .venv/bin/python scripts/make_mnist1d.py data/mnist1d.npz.tmp
    mv data/mnist1d.npz.tmp data/mnist1d.npz
    if ! check data/mnist1d.npz "$mnist1d_sha"; then
        echo "data: data/mnist1d.npz has sha256 $(sha256sum data/mnist1d.npz | cut -d' ' -f1)," \
             "expected $mnist1d_sha (package versions differ from scripts/requirements.txt?)" >&2
        exit 1
    fi
fi
