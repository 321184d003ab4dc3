"""A real Kubernetes control plane, an S3 store and GPU/CPU node pools on loopback, for
development and tests. See hack/README.md.

    from devcluster import ClusterConfig, up, down
    cluster = up(ClusterConfig.from_env())   # DevCluster: kubeconfig, clients, kubectl, logs, s3
    ...
    down(cluster.config)
"""

from devcluster.cluster import down, free_port_base, running_port_base, status, up
from devcluster.config import ClusterConfig, Ports
from devcluster.handle import DevCluster
from devcluster.s3 import S3Info

__all__ = [
    "ClusterConfig",
    "DevCluster",
    "Ports",
    "S3Info",
    "down",
    "free_port_base",
    "running_port_base",
    "status",
    "up",
]
