#!/usr/bin/env bash
# Build the pinned Helm 3 client from the Go module proxy into a cache outside the repo:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/helm/<version>/helm
# Reuses an existing binary (--force rebuilds). Prints the cache directory on the last line.
set -euo pipefail

# helm.sh/helm/v3 has no replace directives, so a plain `go install module@version` works.
version="${HELM_VERSION:-v3.19.0}"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/helm/${version}"

if [[ -x "${out}/helm" && "${1:-}" != "--force" ]]; then
  echo "${out}"
  exit 0
fi

mkdir -p "${out}"
echo "building helm (${version}) ..." >&2
start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
# The ldflags of upstream's Makefile: without them `helm version` says "v3.19" and templates
# see .Capabilities.KubeVersion v1.20 instead of the Kubernetes release helm was built with
# (its client-go v0.34 is Kubernetes 1.34, the release of our test cluster).
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version}"
ldflags+=" -X helm.sh/helm/v3/internal/version.metadata="
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${HELM_K8S_MINOR:-34}"
done
CGO_ENABLED=0 GOBIN="${tmp}" GOFLAGS="-mod=mod" go install -p "${GO_BUILD_P:-2}" -trimpath \
  -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${version}"
mv "${tmp}/helm" "${out}/helm"
echo "built helm in $(( $(date +%s) - start ))s, $(du -h "${out}/helm" | cut -f1)" >&2
echo "${out}"
