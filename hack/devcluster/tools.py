"""The cached binaries: built by the hack/build-*.sh scripts on first use, then reused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devcluster.config import HACK_DIR

K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd")


def _build(script: str) -> Path:
    # stdout's last line is the cache dir; progress goes to stderr, which we let through.
    result = subprocess.run([str(HACK_DIR / script)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(result.stdout.strip().splitlines()[-1])


def ensure_k8s_binaries() -> Path:
    return _build("build-k8s.sh")


def ensure_minio() -> Path:
    return _build("build-minio.sh") / "minio"


def ensure_helm() -> Path:
    """The pinned helm client (the chart's tests install charts/vystra with it)."""
    return _build("build-helm.sh") / "helm"


def ensure_kueue() -> Path:
    """The pinned Kueue build: the ``kueue`` binary and its ``crds/`` (devcluster.kueue)."""
    return _build("build-kueue.sh")


# the cluster autoscaler's API module (the version Kueue v0.17.0 builds against)
AUTOSCALER_APIS = "k8s.io/autoscaler/cluster-autoscaler/apis@v0.0.0-20240830133931-adfbe7e45277"


def provisioning_request_crd() -> Path:
    """The ProvisioningRequest CRD, from the cluster autoscaler's API module (Go's cache)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", AUTOSCALER_APIS],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",  # outside any Go module
    )
    source = Path(json.loads(out.stdout)["Dir"])
    return source / "config" / "crd" / "autoscaling.x-k8s.io_provisioningrequests.yaml"


def ensure_checkov() -> Path:
    """The pinned checkov, in a virtual environment of its own (tests/test_policy_scan.py)."""
    return _build("build-checkov.sh") / "bin" / "checkov"


def link_tools(bin_dir: Path, k8s_dir: Path, minio: Path | None) -> None:
    """Symlink the cached binaries into <state>/bin so `.cluster/bin/kubectl` works."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    targets = {name: k8s_dir / name for name in K8S_BINARIES}
    if minio is not None:
        targets["minio"] = minio
    for name, target in targets.items():
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
