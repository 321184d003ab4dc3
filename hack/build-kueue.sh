#!/usr/bin/env bash
# Build the pinned Kueue controller manager from the Go module proxy into a cache outside the
# repo, with its CRDs from the same module version:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/kueue/<version>/{kueue,crds/*.yaml}
# For the operator's `admission: kueue` tests (tests/cluster/test_kueue.py). Reuses an
# existing build (--force rebuilds). Prints the cache directory on the last line.
set -euo pipefail

version="${KUEUE_VERSION:-v0.17.0}"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/kueue/${version}"

if [[ -x "${out}/kueue" && -d "${out}/crds" && "${1:-}" != "--force" ]]; then
  echo "${out}"
  exit 0
fi

mkdir -p "${out}"
echo "building kueue (${version}) ..." >&2
start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
CGO_ENABLED=0 GOBIN="${tmp}" GOFLAGS="-mod=mod" go install -p "${GO_BUILD_P:-2}" -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=${version}" \
  "sigs.k8s.io/kueue/cmd/kueue@${version}"
# the CRDs of the same version, from the module source go install has just fetched
src="$(cd "${tmp}" && go mod download -json "sigs.k8s.io/kueue@${version}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
rm -rf "${out}/crds"
cp -r "${src}/config/components/crd/bases" "${out}/crds"
chmod -R u+w "${out}/crds"
mv "${tmp}/kueue" "${out}/kueue"
echo "built kueue in $(( $(date +%s) - start ))s, $(du -h "${out}/kueue" | cut -f1)" >&2
echo "${out}"
