"""What a worker pod needs in the namespace of its VideoIngest, set up on first use.

Pods can only use a ServiceAccount, ConfigMap and Secret of their own namespace, and
VideoIngests live in any namespace (one per tenant, say). When a config namespace is set (the
Helm release's), the operator gives each namespace it runs Jobs in the worker ServiceAccount,
a RoleBinding to the worker ClusterRole, and copies of the worker ConfigMap and Secret,
refreshed when the originals change.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vystra_operator import MANAGED_BY
from vystra_operator.config import OperatorSettings

SOURCE_TTL = 30.0  # seconds between re-reads of the original ConfigMap and Secret


def _create(create, *args: Any) -> None:
    try:
        create(*args)
    except ApiException as exc:
        if exc.status != 409:  # already there: a restarted operator, or set up by hand
            raise


class WorkerAccess:
    def __init__(self, settings: OperatorSettings, api_client: client.ApiClient | None = None):
        self.settings = settings
        self.core = client.CoreV1Api(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self._lock = threading.Lock()
        self._ready: dict[str, tuple[str, str]] = {}  # namespace -> source versions copied
        self._sources: tuple[float, Any, Any] = (0.0, None, None)

    def ensure(self, namespace: str) -> None:
        source_ns = self.settings.config_namespace
        if not source_ns:
            return  # namespaces are prepared by hand (see examples/worker-rbac.yaml)
        with self._lock:
            config_map, secret = self._read_sources(source_ns)
            versions = (
                config_map.metadata.resource_version if config_map else "",
                secret.metadata.resource_version if secret else "",
            )
            if self._ready.get(namespace) == versions:
                return
            self._account(namespace)
            if namespace != source_ns:
                if config_map is not None:
                    self._copy(
                        namespace,
                        config_map,
                        self.core.create_namespaced_config_map,
                        self.core.replace_namespaced_config_map,
                    )
                if secret is not None:
                    self._copy(
                        namespace,
                        secret,
                        self.core.create_namespaced_secret,
                        self.core.replace_namespaced_secret,
                    )
            self._ready[namespace] = versions

    def _read_sources(self, source_ns: str) -> tuple[Any, Any]:
        read_at, config_map, secret = self._sources
        if time.monotonic() - read_at > SOURCE_TTL:
            config_map = self._read(
                self.core.read_namespaced_config_map, source_ns, self.settings.worker_config_map
            )
            secret = self._read(
                self.core.read_namespaced_secret, source_ns, self.settings.worker_secret
            )
            self._sources = (time.monotonic(), config_map, secret)
        return config_map, secret

    @staticmethod
    def _read(read, namespace: str, name: str) -> Any:
        try:
            return read(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _meta(self, name: str) -> client.V1ObjectMeta:
        return client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": MANAGED_BY})

    def _account(self, namespace: str) -> None:
        name = self.settings.worker_service_account
        _create(
            self.core.create_namespaced_service_account,
            namespace,
            client.V1ServiceAccount(metadata=self._meta(name)),
        )
        binding = client.V1RoleBinding(
            metadata=self._meta(name),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io",
                kind="ClusterRole",
                name=self.settings.worker_cluster_role,
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        )
        _create(self.rbac.create_namespaced_role_binding, namespace, binding)

    def _copy(self, namespace: str, original: Any, create, replace) -> None:
        name = original.metadata.name
        body = type(original)(metadata=self._meta(name), data=original.data)
        if hasattr(original, "type") and original.type:
            body.type = original.type
        try:
            create(namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            replace(name, namespace, body)
