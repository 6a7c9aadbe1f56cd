#!/usr/bin/env bash
# Installs the Debian packages a list names (one a line, `#` comments), those not yet installed,
# when run as root with apt-get; otherwise says which are missing. Safe to run again.
# Usage: bash scripts/system-packages.sh [LIST]   (default: scripts/system-packages.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
list="${1:-scripts/system-packages.txt}"

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages (${missing[*]}); what needs them will be skipped or fail" >&2
  fi
fi
