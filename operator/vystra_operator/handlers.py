"""Kopf wiring: start the controller on start-up, stop it on clean-up, report health.

The controller (controller.py) does the work from its own watch-fed caches, so no per-object
Kopf handler runs: Kopf adds no finalizer, annotation or status write to any VideoIngest.
Kopf runs the process: logging, signals, and the liveness endpoint, whose probe fails when the
watches or the decision loop stall (a hung connection turns the probe red instead of staying
green while nothing is admitted).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kopf
from kubernetes import client

from vystra_operator import metrics
from vystra_operator.config import get_operator_settings
from vystra_operator.controller import Controller
from vystra_operator.kube import Kube
from vystra_operator.leader import LeaderElector

log = logging.getLogger("vystra.operator")
USER_AGENT = "vystra-operator"
STALL_SECONDS = 60.0  # a decision loop or watch silent this long fails the liveness probe
WATCH_SILENCE = 300.0  # watches end and restart every few minutes; silence past this is a hang


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.enabled = False  # our own Events describe each transition
    settings.scanning.disabled = True  # no Kopf-watched resources: nothing to discover
    config = get_operator_settings()
    api_config = client.Configuration.get_default_copy()
    api_config.connection_pool_maxsize = 48  # Job, status and side threads keep connections
    api_client = client.ApiClient(api_config)
    api_client.user_agent = USER_AGENT  # tells the operator's writes apart in audit logs
    kube = Kube(api_client)
    controller = Controller(config, config.scheduling(), kube)

    def on_leading(leading: bool) -> None:
        metrics.LEADER.set(1 if leading else 0)
        controller.set_leading(leading)

    elector = LeaderElector(
        kube,
        config.lease_location(),
        config.lease_name,
        controller.identity,
        on_leading,
        duration=config.lease_seconds,
        renew_deadline=config.lease_seconds * 0.7,
        retry=max(1.0, config.lease_seconds / 5),
    )
    controller.start()
    elector.start()
    memo.controller, memo.elector = controller, elector


@kopf.on.cleanup()
def cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.elector.stop(release=True)  # the standby takes over now, not a lease later
    memo.controller.stop()


@kopf.on.probe(id="controller")
def health(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    controller: Controller = memo.controller
    now = time.monotonic()
    if now - controller.heartbeat > STALL_SECONDS:
        raise kopf.PermanentError("the decision loop is stalled")
    for informer in controller.informers:
        if informer.synced.is_set() and now - informer.last_contact > WATCH_SILENCE:
            raise kopf.PermanentError(f"the {informer.name} watch is silent")
    return {
        "leader": memo.elector.leading,
        "synced": controller.synced(),
        "waiting": controller.scheduler.waiting_count(),
        "status_backlog": controller.writer.backlog(),
    }
