"""Node pool configuration (hack/nodepools.yaml) turned into the nodes the agent registers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class NodeSpec:
    name: str
    pool: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()
    capacity: dict[str, str] = field(default_factory=dict)


def load_nodes(path: Path) -> list[NodeSpec]:
    """Expand every pool of the file into its nodes. VYSTRA_POOL_<NAME>_COUNT overrides a
    pool's count, so a test can ask for three GPU nodes without writing a file."""
    document = yaml.safe_load(path.read_text()) or {}
    nodes: list[NodeSpec] = []
    for pool in document.get("pools", []):
        name = pool["name"]
        count = int(os.environ.get(f"VYSTRA_POOL_{name.upper()}_COUNT", pool.get("count", 1)))
        capacity = {key: str(value) for key, value in (pool.get("capacity") or {}).items()}
        taints = tuple(dict(taint) for taint in pool.get("taints") or ())
        for index in range(count):
            node_name = f"vystra-{name}-{index}"
            labels = {
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": node_name,
                **{key: str(value) for key, value in (pool.get("labels") or {}).items()},
            }
            nodes.append(NodeSpec(node_name, name, labels, taints, capacity))
    return nodes
