"""A container's environment as the kubelet builds it: envFrom, env with valueFrom
(fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef) and $(VAR) expansion."""

from __future__ import annotations

import base64
import re
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


class EnvError(RuntimeError):
    """The env cannot be built (a missing ConfigMap or key that is not optional). The kubelet
    reports this as CreateContainerConfigError and keeps retrying."""


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) syntax: known variables are replaced, unknown ones are left as they
    are, and $$ escapes a literal $."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(replace, value)


def _field_value(pod: Any, path: str) -> str:
    meta, spec = pod.metadata, pod.spec
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": spec.node_name,
        "spec.serviceAccountName": spec.service_account_name,
        # Pods share the host's network, so both addresses are loopback.
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
        "status.podIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
    }
    if path in simple:
        return simple[path] or ""
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        source = (meta.labels if match.group(1) == "labels" else meta.annotations) or {}
        return source.get(match.group(2), "")
    raise EnvError(f"unsupported fieldRef {path!r}")


def _resource_value(container: Any, resource: str) -> str:
    kind, _, name = resource.partition(".")
    resources = container.resources
    values = (getattr(resources, kind, None) or {}) if resources else {}
    return str(values.get(name, "0"))


class EnvBuilder:
    """Reads ConfigMaps and Secrets of the pod's namespace, once per object per pod start."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core = core
        self.namespace = namespace
        self._cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def _data(self, kind: str, name: str) -> dict[str, str] | None:
        key = (kind, name)
        if key not in self._cache:
            try:
                if kind == "configmap":
                    obj = self.core.read_namespaced_config_map(name, self.namespace)
                    data = dict(obj.data or {})
                else:
                    obj = self.core.read_namespaced_secret(name, self.namespace)
                    data = {
                        k: base64.b64decode(v).decode(errors="replace")
                        for k, v in (obj.data or {}).items()
                    }
            except ApiException as exc:
                if exc.status != 404:
                    raise
                data = None
            self._cache[key] = data
        return self._cache[key]

    def _key_ref(self, kind: str, ref: Any) -> str | None:
        data = self._data(kind, ref.name)
        if data is None or ref.key not in data:
            if ref.optional:
                return None
            what = f"{kind} {self.namespace}/{ref.name}"
            problem = f"{what} not found" if data is None else f"key {ref.key!r} not in {what}"
            raise EnvError(problem)
        return data[ref.key]

    def build(self, pod: Any, container: Any) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.env_from or []:
            ref = source.config_map_ref or source.secret_ref
            kind = "configmap" if source.config_map_ref else "secret"
            data = self._data(kind, ref.name)
            if data is None:
                if ref.optional:
                    continue
                raise EnvError(f"{kind} {self.namespace}/{ref.name} not found")
            prefix = source.prefix or ""
            env.update({prefix + key: value for key, value in data.items()})
        for var in container.env or []:
            if var.value_from is None:
                env[var.name] = expand(var.value or "", env)
                continue
            source = var.value_from
            value: str | None
            if source.field_ref is not None:
                value = _field_value(pod, source.field_ref.field_path)
            elif source.resource_field_ref is not None:
                value = _resource_value(container, source.resource_field_ref.resource)
            elif source.config_map_key_ref is not None:
                value = self._key_ref("configmap", source.config_map_key_ref)
            elif source.secret_key_ref is not None:
                value = self._key_ref("secret", source.secret_key_ref)
            else:
                raise EnvError(f"env {var.name}: unsupported valueFrom")
            if value is not None:
                env[var.name] = value
        return env
