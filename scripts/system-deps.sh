#!/usr/bin/env bash
# System packages the test suite drives for real (Debian/Ubuntu): a single-node Slurm with
# munge for the Slurm executor's test, and Chromium to load the HTML report headless.
# Installs only what is missing; a second call returns at once. Needs root or sudo.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge chromium)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "system-deps: missing Debian packages: ${missing[*]}" >&2
    echo "system-deps: install them as root: apt-get install -y ${missing[*]}" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null; then
    echo "system-deps: no apt-get here; install ${missing[*]} with this system's package manager" >&2
    exit 2
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
