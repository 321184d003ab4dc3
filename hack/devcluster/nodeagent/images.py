"""The explicit image → local command mapping of hack/images.yaml."""

from __future__ import annotations

import fnmatch
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageNotMapped(LookupError):
    pass


@dataclass(frozen=True)
class ImageRule:
    patterns: tuple[str, ...]
    runtime: str  # "venv" or "host"
    entrypoint: tuple[str, ...]  # the image's ENTRYPOINT
    cmd: tuple[str, ...]  # the image's CMD


@dataclass(frozen=True)
class ResolvedCommand:
    argv: list[str]
    path_env: str


def normalize_image(image: str) -> str:
    """`docker.io/library/busybox:1.36@sha256:…` → `busybox`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/", "index.docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return name


class ImageMap:
    def __init__(self, rules: list[ImageRule], venv: Path, extra_path: list[Path]) -> None:
        self.rules = rules
        self.venv = venv
        # Directories every container sees on PATH after the runtime's own (e.g. kubectl's).
        self.extra_path = [str(p) for p in extra_path]

    @classmethod
    def load(cls, path: Path, venv: Path, extra_path: list[Path]) -> ImageMap:
        document = yaml.safe_load(path.read_text()) or {}
        rules = []
        for entry in document.get("images", []):
            patterns = entry["match"]
            if isinstance(patterns, str):
                patterns = [patterns]
            runtime = entry.get("runtime", "host")
            if runtime not in ("venv", "host"):
                raise ValueError(f"{path}: unknown runtime {runtime!r} for {patterns}")
            rules.append(
                ImageRule(
                    tuple(patterns),
                    runtime,
                    tuple(entry.get("entrypoint", ())),
                    tuple(entry.get("cmd", ())),
                )
            )
        return cls(rules, venv, extra_path)

    def rule_for(self, image: str) -> ImageRule:
        name = normalize_image(image)
        for rule in self.rules:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in rule.patterns):
                return rule
        raise ImageNotMapped(f"image {image!r} matches no rule in the node agent's images.yaml")

    def resolve(self, image: str, command: list[str], args: list[str]) -> ResolvedCommand:
        """Kubernetes' rules: `command` replaces the image's ENTRYPOINT and drops its CMD;
        `args` replace the CMD. argv[0] is resolved against the runtime's PATH here, so a
        missing program surfaces as a start error rather than an exec failure in a child."""
        rule = self.rule_for(image)
        argv = [*command, *args] if command else [*rule.entrypoint, *(args or rule.cmd)]
        if not argv:
            raise ImageNotMapped(f"image {image!r}: no command and no entrypoint configured")
        dirs = [
            *([str(self.venv / "bin")] if rule.runtime == "venv" else []),
            HOST_PATH,
            *self.extra_path,
        ]
        path_env = ":".join(dirs)
        if "/" not in argv[0]:
            found = shutil.which(argv[0], path=path_env)
            if found is None:
                raise FileNotFoundError(f"executable {argv[0]!r} not found in PATH {path_env}")
            argv[0] = found
        return ResolvedCommand(argv, path_env)
