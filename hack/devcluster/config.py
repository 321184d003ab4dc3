"""Where a dev cluster keeps its state and which loopback ports it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HACK_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = HACK_DIR.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".cluster"
DEFAULT_PORT_BASE = 16440
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    """Every listener of one cluster, derived from one base so that two clusters (a dev cluster
    and the test suite's) differ in a single number."""

    base: int

    @property
    def apiserver(self) -> int:
        return self.base

    @property
    def etcd_client(self) -> int:
        return self.base + 1

    @property
    def etcd_peer(self) -> int:
        return self.base + 2

    @property
    def controller_manager(self) -> int:
        return self.base + 3

    @property
    def scheduler(self) -> int:
        return self.base + 4

    @property
    def s3(self) -> int:
        return self.base + 5

    @property
    def s3_console(self) -> int:
        return self.base + 6

    @property
    def kubelet(self) -> int:
        """The node agent's log endpoint, which `kubectl logs` reaches through the apiserver."""
        return self.base + 7

    def all(self) -> dict[str, int]:
        names = [
            "apiserver",
            "etcd_client",
            "etcd_peer",
            "controller_manager",
            "scheduler",
            "s3",
            "s3_console",
            "kubelet",
        ]
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class ClusterConfig:
    """Settings of one cluster. `from_env` reads VYSTRA_CLUSTER_* so make targets and tests
    can point at a different state dir or port range without code changes."""

    state_dir: Path = DEFAULT_STATE_DIR
    ports: Ports = Ports(DEFAULT_PORT_BASE)
    node_pools_file: Path = HACK_DIR / "nodepools.yaml"
    images_file: Path = HACK_DIR / "images.yaml"
    venv: Path = REPO_ROOT / ".venv"
    s3_bucket: str = "vystra"
    s3_access_key: str = "vystra-dev"
    s3_secret_key: str = "vystra-dev-secret"
    with_s3: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> ClusterConfig:
        env = os.environ
        values: dict[str, object] = {}
        if "VYSTRA_CLUSTER_STATE_DIR" in env:
            values["state_dir"] = Path(env["VYSTRA_CLUSTER_STATE_DIR"])
        if "VYSTRA_CLUSTER_PORT_BASE" in env:
            values["ports"] = Ports(int(env["VYSTRA_CLUSTER_PORT_BASE"]))
        if "VYSTRA_NODE_POOLS" in env:
            values["node_pools_file"] = Path(env["VYSTRA_NODE_POOLS"])
        if "VYSTRA_IMAGES" in env:
            values["images_file"] = Path(env["VYSTRA_IMAGES"])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.state_dir.resolve())

    @property
    def server_url(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.apiserver}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.s3}"


@dataclass(frozen=True)
class StatePaths:
    """Layout of a state dir. Everything a cluster writes lives below `root`."""

    root: Path

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def s3_data(self) -> Path:
        return self.root / "s3"

    @property
    def logs(self) -> Path:
        """Component logs (<component>.log) and pod logs (<namespace>_<pod>.log)."""
        return self.root / "logs"

    @property
    def pods(self) -> Path:
        """One working dir per pod: its kubeconfig, token and container pid files."""
        return self.root / "pods"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        """The apiserver's audit log: one JSON line per write (see controlplane.AUDIT_POLICY)."""
        return self.logs / "audit.log"

    def pod_log(self, namespace: str, pod: str) -> Path:
        return self.logs / f"{namespace}_{pod}.log"
