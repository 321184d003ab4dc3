#!/usr/bin/env bash
# Install the pinned checkov (a Kubernetes policy scanner, from PyPI) into its own virtual
# environment in a cache outside the repo, apart from the project's locked dependencies:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/checkov/<version>/bin/checkov
# Reuses an existing install (--force reinstalls). Prints the cache directory on the last line.
set -euo pipefail

version="${CHECKOV_VERSION:-3.3.30}"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/checkov/${version}"

if [[ -x "${out}/bin/checkov" && "${1:-}" != "--force" ]]; then
  echo "${out}"
  exit 0
fi

echo "installing checkov ${version} ..." >&2
start=$(date +%s)
rm -rf "${out}"
"${PYTHON:-python3}" -m venv "${out}"
"${out}/bin/pip" install -q --disable-pip-version-check "checkov==${version}" >&2
echo "installed checkov in $(( $(date +%s) - start ))s" >&2
echo "${out}"
