#!/usr/bin/env bash
# Build the pinned MinIO server (the S3-compatible object store of the dev
# cluster and the tests) from the Go module proxy into a cache outside the repo:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/minio/<version>/minio
# Reuses an existing binary. Prints the cache directory on the last line.
set -euo pipefail

# MinIO publishes no semver tags, so the pin is the module proxy's pseudo-version
# of the newest commit (2026-02-12) that `go install` can build.
version="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/minio/${version}"

if [[ -x "${out}/minio" && "${1:-}" != "--force" ]]; then
  echo "${out}"
  exit 0
fi

mkdir -p "${out}"
echo "building minio (${version}) ..." >&2
start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
CGO_ENABLED=0 GOBIN="${tmp}" GOFLAGS="-mod=mod" \
  go install -p "${GO_BUILD_P:-2}" -trimpath -ldflags "-s -w" "github.com/minio/minio@${version}"
mv "${tmp}/minio" "${out}/minio"
echo "built minio in $(( $(date +%s) - start ))s, $(du -h "${out}/minio" | cut -f1)" >&2
echo "${out}"
