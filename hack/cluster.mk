# Dev cluster targets, included by the top-level Makefile (which defines VENV and PY).
# A real kube-apiserver, controller manager, scheduler and etcd built from the pinned Go
# modules in hack/k8s, MinIO as the S3 store, and a node agent registering GPU and CPU
# pools; all on loopback. See hack/README.md.
#
#   make cluster-up       start (or resume) it; admin kubeconfig in .cluster/kubeconfig
#   make cluster-status   components and nodes
#   make cluster-logs     tail component and pod logs (LOG=kube-apiserver or LOG=ns/pod)
#   make cluster-down     stop everything; etcd data stays in .cluster/ for the next up
#   make cluster-tools    build (or reuse) the cached binaries under ~/.cache/vystra
#   make cluster-clean    cluster-down, then delete .cluster/

CLUSTER_STATE ?= .cluster
CLUSTER_PORT_BASE ?= 16440
DEVCLUSTER = PYTHONPATH=hack VYSTRA_CLUSTER_STATE_DIR=$(CLUSTER_STATE) \
	VYSTRA_CLUSTER_PORT_BASE=$(CLUSTER_PORT_BASE) $(PY) -m devcluster

.PHONY: cluster-up cluster-down cluster-status cluster-logs cluster-tools cluster-clean

cluster-up:
	$(DEVCLUSTER) up

cluster-down:
	$(DEVCLUSTER) down

cluster-status:
	$(DEVCLUSTER) status

cluster-logs:
	$(DEVCLUSTER) logs $(LOG)

cluster-tools:
	$(DEVCLUSTER) tools

cluster-clean: cluster-down
	rm -rf $(CLUSTER_STATE)
