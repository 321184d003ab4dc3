# Helm chart, images and deploy targets, included by the top-level Makefile (which defines
# VENV and PY). See charts/vystra/README.md and images/README.md.
#
#   make helm-tool     build (or reuse) the pinned helm under ~/.cache/vystra/helm/
#   make chart-sync    copy crds/ into charts/vystra/crds/ (the one source copy is crds/)
#   make chart-check   fail if the chart's CRDs drifted from crds/ (CI runs it)
#   make chart-lint    helm lint --strict with the chart's CI values
#   make checkov-tool  install (or reuse) the pinned checkov under ~/.cache/vystra/checkov/
#   make images        build the four images with docker buildx (needs a container engine)
#   make deploy        helm upgrade --install into the current kubecontext (VALUES=my.yaml)

HELM_VERSION ?= v3.19.0
HELM = $(shell HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh 2>/dev/null | tail -n 1)/helm
CHART := charts/vystra
VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(CHART)/Chart.yaml)
REGISTRY ?= ghcr.io/vystra
PLATFORM := linux/amd64
# IMAGE_OUTPUT=--push to publish; the default loads each image into the local engine
IMAGE_OUTPUT ?= --load
RELEASE ?= vystra
NAMESPACE ?= vystra
VALUES ?=

.PHONY: helm-tool checkov-tool chart-sync chart-check chart-lint images deploy

helm-tool:
	HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh

checkov-tool:
	hack/build-checkov.sh

chart-sync:
	mkdir -p $(CHART)/crds
	cp crds/*.yaml $(CHART)/crds/

chart-check:
	@diff -r --exclude=README.md crds $(CHART)/crds \
	  || { echo "charts/vystra/crds differs from crds/: run make chart-sync" >&2; exit 1; }

chart-lint: helm-tool chart-check
	for values in $(CHART)/ci/*.yaml; do $(HELM) lint --strict $(CHART) -f $$values || exit 1; done

# The commands for anyone with a container engine and buildx; these machines have none.
images:
	docker buildx build --platform $(PLATFORM) -f images/Dockerfile --target worker-cuda \
	  -t $(REGISTRY)/worker:$(VERSION)-cuda $(IMAGE_OUTPUT) .
	docker buildx build --platform $(PLATFORM) -f images/Dockerfile --target worker-cpu \
	  -t $(REGISTRY)/worker:$(VERSION)-cpu $(IMAGE_OUTPUT) .
	docker buildx build --platform $(PLATFORM) -f images/Dockerfile --target operator \
	  -t $(REGISTRY)/operator:$(VERSION) $(IMAGE_OUTPUT) .
	docker buildx build --platform $(PLATFORM) -f images/Dockerfile --target api \
	  -t $(REGISTRY)/api:$(VERSION) $(IMAGE_OUTPUT) .

deploy: helm-tool
	$(HELM) upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) --create-namespace \
	  --wait --timeout 10m $(if $(VALUES),-f $(VALUES))
