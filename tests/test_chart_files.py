"""charts/vystra and skaffold.yaml without a cluster: CRDs in sync with crds/, lint, the
strict values schema, documented values, the guards, and skaffold's own schema."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonpatch
import jsonschema_rs
import pytest
import yaml
from chart_helpers import CHART, CI_VALUES, REPO, Helm, find, operator_jobs

MINIMAL = CHART / "ci" / "minimal-values.yaml"
FULL = CHART / "ci" / "full-values.yaml"
EXAMPLES = CHART / "examples"

SKAFFOLD = "github.com/GoogleContainerTools/skaffold/v2@v2.16.1"


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm()


def test_chart_crds_are_the_source_copies() -> None:
    """`make chart-sync` copies crds/ into the chart; CI fails here when someone forgot."""
    source = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    synced = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert source and synced == source, "charts/vystra/crds drifted from crds/: make chart-sync"


def test_lint_is_clean_for_every_ci_values_file(helm) -> None:
    for values in CI_VALUES:
        result = helm("lint", "--strict", str(CHART), "-f", str(values))
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--set", "api.replicas=2"], "additional properties 'replicas' not allowed"),
        (["--set", "api.port=http"], "got string, want integer"),
        (["--set", "pools.gpu.gpuCount=1"], "additional properties 'gpuCount' not allowed"),
        (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        (["--set", "objectStore.endpoint=minio:9000"], "endpoint"),
        (["--set", "secrets.databaseUrl=mysql://db"], "databaseUrl"),
        (["--set", "scheduling.tenants[0].name=a,scheduling.tenants[0].weight=0"], "weight"),
        (["--set", "scheduling.priorityClasses[0].name=Urgent!"], "name"),
        (["--set", "api.serviceAccount.name=mine"], "additional properties 'name' not allowed"),
        (["--set", "pools.serviceAccount.annotations.a=1"], "got number, want string"),
        (["--set", "api.priorityClassName=High_Priority"], "priorityClassName"),
        (["--set", "operator.extraEnv[0].value=x"], "missing property 'name'"),
        (["--set", "api.extraVolumeMounts[0].name=ca"], "missing property 'mountPath'"),
        (["--set", "api.topologySpreadConstraints[0].maxSkew=1"], "topologyKey"),
        (["--set", "reindex.podLabels.team=true"], "got boolean, want string"),
        (["--set", "pools.gpu.priorityClassName=GPU"], "priorityClassName"),
        (["--set", "pools.models.mountPath=models"], "mountPath"),
        (["--set", "pools.models.whisperModel=/opt/model"], "whisperModel"),
        (
            ["--set", "pools.models.volume.nfs.server=a,pools.models.volume.emptyDir.medium=x"],
            "maxProperties: got 2, want 1",
        ),
    ],
)
def test_schema_rejects_unknown_and_mistyped_values(helm, override, message) -> None:
    result = helm("template", "vystra", str(CHART), "-f", str(MINIMAL), *override, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ([], "set secrets.existingSecret"),
        (["--set", "pools.gpu.enabled=false,pools.cpu.enabled=false"], "enable at least one"),
        (["--set", "api.ingress.enabled=true"], "needs api.ingress.host"),
        (
            ["--set", "api.podLabels.app\\.kubernetes\\.io/component=web"],
            "api.podLabels may not set app.kubernetes.io/component",
        ),
        (
            ["--set", "pools.models.volume.emptyDir.medium=Memory,pools.models.mountPath=/tmp/m"],
            "pools.models.mountPath may not be /tmp",
        ),
        (
            ["--set", "pools.models.volume.emptyDir.medium=Memory,pools.models.whisperModel=a/.."],
            "pools.models.whisperModel must be a folder inside the volume",
        ),
        (
            ["--set", "operator.serviceAccount.labels.helm\\.sh/chart=x"],
            "operator.serviceAccount.labels may not set helm.sh/chart",
        ),
    ],
)
def test_impossible_combinations_fail_with_a_message(helm, override, message) -> None:
    args = [] if not override else ["-f", str(MINIMAL)]
    result = helm("template", "vystra", str(CHART), *args, *override, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_every_value_is_documented() -> None:
    """Each key in values.yaml has a comment right above it, or is the first key of a block
    (documented by the block's comment), or lies inside a value documented as a whole
    (`# --` above `resources:` covers requests and limits); and the schema knows every key."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    documented: list[tuple[int, bool]] = []  # (indent, "# --" above) of the enclosing keys
    for n, line in enumerate(lines):
        if not re.match(r"^\s*[A-Za-z][\w.-]*:", line):
            continue
        indent = len(line) - len(line.lstrip())
        documented = [(i, whole) for i, whole in documented if i < indent]
        comment = []  # the comment lines right above the key
        while n - len(comment) > 0 and lines[n - len(comment) - 1].strip().startswith("#"):
            comment.append(lines[n - len(comment) - 1].strip())
        first_child = lines[n - 1].rstrip().endswith(":")
        covered = any(whole for _, whole in documented)
        assert comment or first_child or covered, f"values.yaml:{n + 1}: {line}"
        documented.append((indent, any(c.startswith("# --") for c in comment)))
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(value: object, node: dict, where: str) -> None:
        if isinstance(value, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
            for key, child in value.items():
                assert key in node["properties"], f"{where}.{key} is not in the schema"
                walk(child, node["properties"][key], f"{where}.{key}")

    walk(values, schema, "values")


def test_worker_configuration_reaches_operator_and_api(helm) -> None:
    """The names the operator is told are the objects the chart makes, all in the release's
    namespace where worker Jobs run, and the workers' Secret holds no Stripe key."""
    docs = helm.template("-f", str(FULL))
    operator = find(docs, "Deployment", "vystra-operator")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in operator["containers"][0]["env"]}
    assert env["VYSTRA_OPERATOR_WORKER_SECRET"]["value"] == "vystra-secrets"  # existingSecret
    for key in ("WORKER_CONFIG_MAP", "WORKER_SERVICE_ACCOUNT"):
        assert env[f"VYSTRA_OPERATOR_{key}"]["value"] == "vystra-worker"
    assert env["VYSTRA_OPERATOR_JOBS_NAMESPACE"]["value"] == "default"  # the release namespace
    shared = find(docs, "ConfigMap", "vystra-worker")["data"]
    # numbers as the settings parse them: 67108864, not 6.7108864e+07
    assert shared["VYSTRA_UPLOAD_PART_BYTES"] == "67108864"
    assert shared["VYSTRA_SEGMENT_PAUSE_SECONDS"] == "1.5"
    assert find(docs, "ServiceAccount", "vystra-worker")["automountServiceAccountToken"] is False
    assert not [
        d
        for d in docs
        if d["kind"] in ("ClusterRole", "Role") and "worker" in d["metadata"]["name"]
    ]
    # the operator holds the platform's credentials and presigns; workers never see them
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "vystra-secrets"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert operator["containers"][0]["envFrom"] == [{"configMapRef": {"name": "vystra-worker"}}]
    pools = env["VYSTRA_OPERATOR_POOLS_YAML"]["valueFrom"]["configMapKeyRef"]
    data = yaml.safe_load(find(docs, "ConfigMap", pools["name"])["data"][pools["key"]])
    cpu = next(p for p in data["pools"] if p["name"] == "cpu")
    assert cpu["requests"] == {"cpu": "4", "memory": "4Gi"}  # quantities as strings
    assert cpu["max_concurrent"] == 4
    api = find(docs, "Deployment", "vystra-api")["spec"]["template"]["spec"]["containers"][0]
    stripe = [e for e in api["env"] if e["name"].startswith("STRIPE_")]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in stripe} == {"vystra-stripe"}
    assert {"vystra-secrets"} == {
        ref["secretRef"]["name"] for ref in api["envFrom"] if "secretRef" in ref
    }


def worker_jobs(docs: list[dict]) -> dict[str, dict]:
    """The worker Job the operator renders for each pool of the rendered pools file."""
    pools = find(docs, "ConfigMap", "vystra-pools")["data"]["pools.yaml"]
    return {j["metadata"]["labels"]["vystra.io/pool"]: j for j in operator_jobs(pools)}


def test_service_accounts_carry_cloud_identity_annotations(helm) -> None:
    """IRSA, GKE and AKS workload identity bind a pod's ServiceAccount to a cloud identity
    through annotations (and labels) on the account itself."""
    accounts = {
        d["metadata"]["name"]: d["metadata"]
        for d in helm.template("-f", str(FULL))
        if d["kind"] == "ServiceAccount"
    }
    assert set(accounts) == {"vystra-api", "vystra-operator", "vystra-worker"}
    arn = "arn:aws:iam::111122223333:role/vystra-"
    assert accounts["vystra-api"]["annotations"] == {"eks.amazonaws.com/role-arn": arn + "api"}
    assert accounts["vystra-operator"]["annotations"] == {
        "eks.amazonaws.com/role-arn": arn + "operator"
    }
    assert accounts["vystra-worker"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "vystra-worker@project.iam.gserviceaccount.com"
    }
    for name in ("vystra-api", "vystra-worker"):  # beside the chart's own labels
        assert accounts[name]["labels"]["team"] == "media"
        assert accounts[name]["labels"]["app.kubernetes.io/instance"] == "vystra"
    assert "team" not in accounts["vystra-operator"]["labels"]
    defaults = helm.template("-f", str(MINIMAL))
    assert not [
        d for d in defaults if d["kind"] == "ServiceAccount" and "annotations" in d["metadata"]
    ]


def test_api_operator_and_reindex_pods_take_placement_and_extras(helm) -> None:
    """extraEnv, extraVolumes and extraVolumeMounts come after the chart's own; placement
    values land in the pod specs; extra pod labels leave the Deployment selectors alone."""
    docs = helm.template("-f", str(FULL))
    ca_volume = {"name": "corporate-ca", "configMap": {"name": "corporate-ca"}}
    ca_mount = {"name": "corporate-ca", "mountPath": "/etc/ssl/corporate", "readOnly": True}
    proxy = {"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}
    cron = find(docs, "CronJob", "vystra-reindex")["spec"]["jobTemplate"]["spec"]["template"]
    pods = {
        "api": find(docs, "Deployment", "vystra-api")["spec"]["template"],
        "operator": find(docs, "Deployment", "vystra-operator")["spec"]["template"],
        "reindex": cron,
    }
    for component, pod in pods.items():
        spec, (container,) = pod["spec"], pod["spec"]["containers"]
        assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}, ca_volume], component
        assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}, ca_mount]
        assert container["env"][0]["name"] != "HTTPS_PROXY" and proxy in container["env"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == component
        assert pod["metadata"]["labels"]["team"] == "media"
        assert spec["priorityClassName"] == (
            "vystra-batch" if component == "reindex" else "vystra-platform"
        )
    api, operator = pods["api"]["spec"], pods["operator"]["spec"]
    assert api["containers"][0]["env"][-1] == {
        "name": "POD_IP",
        "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
    }
    assert [c["whenUnsatisfiable"] for c in api["topologySpreadConstraints"]] == ["DoNotSchedule"]
    assert operator["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"app.kubernetes.io/component": "operator"}
    }
    assert "nodeAffinity" in cron["spec"]["affinity"]
    assert cron["metadata"]["annotations"] == {"example.com/cost-centre": "media"}
    for name in ("vystra-api", "vystra-operator"):
        selector = find(docs, "Deployment", name)["spec"]["selector"]["matchLabels"]
        assert "team" not in selector
    # nothing of this in a default install
    defaults = helm.template("-f", str(MINIMAL))
    for kind, name in [("Deployment", "vystra-api"), ("Deployment", "vystra-operator")]:
        spec = find(defaults, kind, name)["spec"]["template"]["spec"]
        assert not {"priorityClassName", "topologySpreadConstraints", "affinity"} & set(spec)
        assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_worker_jobs_get_the_pools_priority_class_and_the_model_volume(helm) -> None:
    """pools.priorityClassName and pools.models reach the Jobs the operator builds: a pool's
    own class wins over the shared one; the volume is mounted read-only and the Whisper model
    setting points into it."""
    jobs = worker_jobs(helm.template("-f", str(FULL)))
    pods = {pool: job["spec"]["template"]["spec"] for pool, job in jobs.items()}
    assert pods["gpu"]["priorityClassName"] == "vystra-gpu"
    assert pods["cpu"]["priorityClassName"] == "vystra-batch"
    for pool, pod in pods.items():
        (container,) = pod["containers"]
        assert {
            "name": "models",
            "persistentVolumeClaim": {"claimName": "whisper-models", "readOnly": True},
        } in pod["volumes"], pool
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in container[
            "volumeMounts"
        ]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["VYSTRA_WHISPER_MODEL"] == "/models/faster-whisper-large-v3"
    # and none of it by default
    for pod in (
        j["spec"]["template"]["spec"]
        for j in worker_jobs(helm.template("-f", str(MINIMAL))).values()
    ):
        assert "priorityClassName" not in pod and [v["name"] for v in pod["volumes"]] == ["tmp"]
        assert "VYSTRA_WHISPER_MODEL" not in {e["name"] for e in pod["containers"][0]["env"]}


CLOUDS = {
    # cloud: (the identity annotation, the GPU nodes' label, their taint's toleration, the
    # pod label the identity needs)
    "eks": (
        "eks.amazonaws.com/role-arn",
        "karpenter.sh/nodepool",
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {},
    ),
    "gke": (
        "iam.gke.io/gcp-service-account",
        "cloud.google.com/gke-accelerator",
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        {},
    ),
    "aks": (
        "azure.workload.identity/client-id",
        "kubernetes.azure.com/agentpool",
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        {"azure.workload.identity/use": "true"},
    ),
}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_cloud_example_values_land_where_they_must(helm, cloud) -> None:
    """examples/<cloud>-values.yaml lints clean, passes the schema, binds the API's and the
    operator's ServiceAccounts (only those: workers hold no cloud identity) and sends GPU
    work to the cloud's GPU nodes through the operator's pools file."""
    values = EXAMPLES / f"{cloud}-values.yaml"
    annotation, gpu_label, toleration, pod_labels = CLOUDS[cloud]
    lint = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert "[WARNING]" not in lint.stdout and "[ERROR]" not in lint.stdout
    docs = helm.template("-f", str(values))
    for component in ("api", "operator"):
        account = find(docs, "ServiceAccount", f"vystra-{component}")["metadata"]
        assert list(account["annotations"]) == [annotation], component
        pod = find(docs, "Deployment", f"vystra-{component}")["spec"]["template"]["metadata"]
        assert pod_labels.items() <= pod["labels"].items(), component
    assert "annotations" not in find(docs, "ServiceAccount", "vystra-worker")["metadata"]
    pools = {
        p["name"]: p
        for p in yaml.safe_load(find(docs, "ConfigMap", "vystra-pools")["data"]["pools.yaml"])[
            "pools"
        ]
    }
    assert pools["gpu"]["autoscaled"] is True
    pods = {pool: job["spec"]["template"]["spec"] for pool, job in worker_jobs(docs).items()}
    gpu, cpu = pods["gpu"], pods["cpu"]
    # the cloud's labels replace the chart's default vystra.io/pool label
    assert set(gpu["nodeSelector"]) == {gpu_label, "kubernetes.io/arch"}
    assert "vystra.io/pool" not in cpu["nodeSelector"]
    assert gpu["tolerations"] == [toleration] and cpu["tolerations"] == []
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for pod in (gpu, cpu):
        (container,) = pod["containers"]
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in container[
            "volumeMounts"
        ]
        assert {"name": "VYSTRA_WHISPER_MODEL", "value": "/models/faster-whisper-large-v3"} in (
            container["env"]
        )


def test_the_operator_reads_kueue_workloads_only_in_kueue_mode(helm) -> None:
    def workload_rules(*args: str) -> list[dict]:
        role = find(helm.template(*args), "Role", "vystra-operator")
        return [r for r in role["rules"] if "workloads" in r["resources"]]

    assert workload_rules("-f", str(FULL), "--set", "scheduling.admission=vystra") == []
    assert workload_rules("-f", str(FULL)) == [
        {
            "apiGroups": ["kueue.x-k8s.io"],
            "resources": ["workloads"],
            "verbs": ["get", "list", "watch"],
        }
    ]


def test_operator_reads_the_rendered_pools(helm, monkeypatch) -> None:
    """The operator's own settings parse the chart's pools, as they do in the pod."""
    from vystra_operator.config import OperatorSettings

    docs = helm.template("-f", str(FULL))
    monkeypatch.setenv(
        "VYSTRA_OPERATOR_POOLS_YAML", find(docs, "ConfigMap", "vystra-pools")["data"]["pools.yaml"]
    )
    scheduling = OperatorSettings().scheduling()
    pools = {f.name: f for f in scheduling.flavors}
    assert pools["gpu"].gpu and pools["gpu"].image == "ghcr.io/vystra/worker:0.1.0-cuda"
    # the administrator's classes and tenants, as full-values.yaml sets them
    assert [(c.name, c.value) for c in scheduling.priority_classes] == [
        ("batch", 0),
        ("standard", 50),
        ("urgent", 500),
    ]
    assert scheduling.default_priority_class == "standard"
    assert [(t.name, t.weight, t.gpu_seconds_budget) for t in scheduling.tenants] == [
        ("acme", 2, 36000),
        ("globex", 1, None),
    ]
    assert scheduling.default_tenant_weight == 0.5 and scheduling.aging_per_hour == 20
    assert scheduling.unschedulable_seconds == 900
    assert (scheduling.batch_max, scheduling.batch_short_seconds) == (4, 300)
    assert (scheduling.admission, scheduling.queue_of("acme")) == ("kueue", "media")
    assert pools["gpu"].node_selector == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert (pools["gpu"].autoscaled, pools["gpu"].max_pending) == (True, 3)
    assert pools["gpu"].scale_up_seconds == 240
    assert pools["cpu"].env == {"VYSTRA_WHISPER_THREADS": "4"}


def skaffold_schema(version: str) -> dict:
    """Skaffold's published JSON schema, from its Go module (downloaded once, then cached)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", SKAFFOLD],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    folder = Path(json.loads(out.stdout)["Dir"]) / "docs-v2" / "content" / "en" / "schemas"
    return json.loads((folder / f"{version}.json").read_text())


def test_skaffold_yaml_matches_skaffolds_schema() -> None:
    config = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    schema = skaffold_schema(config["apiVersion"].split("/")[1])
    validator = jsonschema_rs.validator_for(schema)
    # the top level is an anyOf; check each section against its definition for a clear error
    sections = {"build": "BuildConfig", "deploy": "DeployConfig", "metadata": "Metadata"}
    for key, definition in sections.items():
        sub = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
        errors = [
            str(e).splitlines()[0]
            for e in jsonschema_rs.validator_for(sub).iter_errors(config[key])
        ]
        assert errors == [], f"skaffold.yaml {key}: {errors}"
    assert validator.is_valid(config)
    mistyped = {**config, "build": {**config["build"], "local": {"useBuildKit": True}}}
    assert not validator.is_valid(mistyped)
    # what skaffold builds is what the Dockerfile defines, and what the chart gets
    targets = {a["docker"]["target"] for a in config["build"]["artifacts"]}
    assert targets == {"worker-cuda", "worker-cpu", "operator", "api"}
    # each profile, its patches applied, is still a valid config building Dockerfile targets
    dockerfile = (REPO / "images" / "Dockerfile").read_text()
    for profile in config["profiles"]:
        patched = jsonpatch.apply_patch(config, profile.get("patches", []))
        patched.pop("profiles")
        patched["deploy"] = profile.get("deploy", patched["deploy"])
        assert validator.is_valid(patched), profile["name"]
        for artifact in patched["build"]["artifacts"]:
            assert f" AS {artifact['docker']['target']}\n" in dockerfile, artifact
    dev = next(p for p in config["profiles"] if p["name"] == "dev")
    synced = jsonpatch.apply_patch(config, dev["patches"])
    assert synced["deploy"]["helm"]["releases"][0]["setValues"]["devReload"] is True
    assert all("sync" in a for a in synced["build"]["artifacts"][:2])
    release = config["deploy"]["helm"]["releases"][0]
    assert (REPO / release["chartPath"]).resolve() == CHART
    for artifact in config["build"]["artifacts"]:
        key = "IMAGE_FULLY_QUALIFIED_" + re.sub(r"\W", "_", artifact["image"])
        assert any(key in v for v in release["setValueTemplates"].values()), artifact["image"]


def test_the_api_makes_reindex_jobs_from_the_charts_cronjob(helm) -> None:
    """The API is told the suspended CronJob it copies, and may read only that one and create
    Jobs, in the release namespace; the Job holds the platform's database URL, nothing else."""
    docs = helm.template("-f", str(FULL))
    api = find(docs, "Deployment", "vystra-api")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    namespace, _, name = env["VYSTRA_REINDEX_JOB_TEMPLATE"].partition("/")
    cron = find(docs, "CronJob", name)
    assert namespace == "default" and cron["spec"]["suspend"] is True
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["command"] == ["vystra"] and container["args"][0] == "reindex"
    assert [
        e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e
    ] == ["DATABASE_URL"]
    rules = find(docs, "Role", "vystra-api-reindex")["rules"]
    assert {(r["resources"][0], tuple(r["verbs"])) for r in rules} == {
        ("cronjobs", ("get",)),
        ("jobs", ("create",)),
    }
    assert next(r for r in rules if r["resources"] == ["cronjobs"])["resourceNames"] == [name]


# the parts of Grafana's dashboard model this dashboard uses, and what Grafana requires of them
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "items": {"required": ["name", "type"]}}},
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer"},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {"w": {"maximum": 24}, "x": {"maximum": 23}},
                    },
                    "datasource": {
                        "type": "object",
                        "properties": {"uid": {"const": "${datasource}"}},
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["refId", "expr"]},
                    },
                },
            },
        },
    },
}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_metrics() -> dict[str, str]:
    """Every metric family the API and the operator export, by name: its type."""
    from prometheus_client import REGISTRY

    import vystra_operator.metrics  # noqa: F401  registers the operator's families
    from vystra_api.metrics import Metrics

    api = Metrics()
    api.watch_ingests(lambda: {})
    api.watch_outbox(lambda: (0, 0.0))
    api.watch_webhooks(lambda: (0, 0.0))
    return {
        family.name: family.type
        for registry in (api.registry, REGISTRY)
        for family in registry.collect()
        if family.name.startswith("vystra_")
    }


def unknown_metrics(expr: str, exported: dict[str, str]) -> set[str]:
    named = set(re.findall(r"\bvystra_[a-z_]+", expr))
    known = {base + s for base, kind in exported.items() for s in SUFFIXES.get(kind, ("",))}
    return named - known


def test_alerts_and_dashboard_name_only_metrics_the_code_exports(helm) -> None:
    docs = helm.template(
        "-f",
        str(MINIMAL),
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "grafanaDashboard.enabled=true",
    )
    exported = exported_metrics()
    assert {
        "vystra_operator_succeeded",
        "vystra_billing_outbox_pending",
        "vystra_webhook_backlog",
    } <= set(exported)

    rule = find(docs, "PrometheusRule")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert len({a["alert"] for a in alerts}) == len(alerts) >= 6
    for alert in alerts:
        assert re.fullmatch(r"Vystra[A-Za-z]+", alert["alert"])
        assert alert["labels"]["severity"] in ("warning", "critical") and alert["for"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert re.search(r"\bvystra_", alert["expr"]), alert
        assert not unknown_metrics(alert["expr"], exported), alert["alert"]

    config = find(docs, "ConfigMap", "vystra-dashboard")
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config["data"]["vystra.json"])
    jsonschema_rs.validate(DASHBOARD_SCHEMA, dashboard)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert not unknown_metrics(target["expr"], exported), (panel["title"], target)
            queried |= set(re.findall(r"\bvystra_[a-z_]+", target["expr"]))
    # every family shows somewhere: no metric is exported for nobody to see
    for name, kind in exported.items():
        assert any(name + s in queried for s in SUFFIXES.get(kind, ("",))), name

    default = helm.template("-f", str(MINIMAL))
    assert not [d for d in default if d["kind"] == "PrometheusRule"]
    assert not [d for d in default if d["metadata"]["name"] == "vystra-dashboard"]


def test_api_and_workers_log_json_by_default(helm) -> None:
    for args, expected in (((), "json"), (("--set", "logFormat=text"), "text")):
        shared = find(helm.template("-f", str(MINIMAL), *args), "ConfigMap", "vystra-worker")
        assert shared["data"]["VYSTRA_LOG_FORMAT"] == expected
    refused = helm(
        "template", "vystra", str(CHART), "-f", str(MINIMAL), "--set", "logFormat=xml", check=False
    )
    assert refused.returncode != 0 and "logFormat" in refused.stderr


def test_traces_are_off_until_a_collector_is_given(helm) -> None:
    """One endpoint for the API, the operator and the workers, which all read the ConfigMap."""
    off = find(helm.template("-f", str(MINIMAL)), "ConfigMap", "vystra-worker")["data"]
    assert not [k for k in off if k.startswith("OTEL_")]
    endpoint = "http://otel-collector.monitoring:4318"
    on = helm.template("-f", str(MINIMAL), "--set", f"tracing.endpoint={endpoint}")
    assert find(on, "ConfigMap", "vystra-worker")["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    for name in ("vystra-api", "vystra-operator"):
        container = find(on, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert {"configMapRef": {"name": "vystra-worker"}} in container["envFrom"], name
    refused = helm(
        "template", "vystra", str(CHART), "-f", str(MINIMAL), "--set", "tracing.endpoint=otel:4318",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "tracing" in refused.stderr
