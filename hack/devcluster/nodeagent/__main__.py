"""python -m devcluster.nodeagent --state-dir DIR [--port-base N]: run the node agent of the
cluster whose state dir is DIR until SIGTERM. Normally started by `devcluster up`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from kubernetes import client, config

from devcluster.certs import CertPaths
from devcluster.config import ClusterConfig, Ports
from devcluster.nodeagent.agent import NodeAgent
from devcluster.nodeagent.images import ImageMap
from devcluster.nodeagent.logserver import serve_logs
from devcluster.nodeagent.nodes import NodeRegistry
from devcluster.nodeagent.pools import load_nodes
from devcluster.nodeagent.runner import RunnerContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devcluster.nodeagent")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--node-pools", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--venv", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    cfg = ClusterConfig(
        state_dir=args.state_dir,
        ports=Ports(args.port_base),
        node_pools_file=args.node_pools,
        images_file=args.images,
        venv=args.venv,
    )
    paths = cfg.paths
    certs = CertPaths(paths.certs)
    configuration = client.Configuration()
    config.load_kube_config(
        str(paths.certs / "node-agent.kubeconfig"), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = 32
    api = client.ApiClient(configuration)

    images = ImageMap.load(args.images, args.venv, extra_path=[paths.bin])
    ctx = RunnerContext(api, images, cfg.server_url, certs.ca_cert, paths.pods, paths.logs)
    registry = NodeRegistry(api, load_nodes(args.node_pools), cfg.ports.kubelet)
    agent = NodeAgent(ctx, registry)
    serving = (certs.cert("node-agent-serving"), certs.key("node-agent-serving"), certs.ca_cert)
    serve_logs(cfg.ports.kubelet, paths.logs, agent.is_running, serving)

    done = threading.Event()
    failed = threading.Event()

    def stop(signum: int, frame: object) -> None:
        agent.shutdown()
        done.set()

    def run() -> None:
        try:
            agent.run()
        except Exception:
            logging.exception("node agent failed")
            failed.set()
            agent.shutdown()
            done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=run, name="pod-watch", daemon=True).start()
    done.wait()
    return 1 if failed.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
