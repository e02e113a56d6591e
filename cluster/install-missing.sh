#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (root). Used by .ci/run
# and the cluster tests, so each lists what it needs and nothing is fetched twice.
set -euo pipefail
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]})) || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
