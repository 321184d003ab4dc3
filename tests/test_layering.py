"""Imports run one way: the core package (vystra) never imports the API or the operator."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_core_imports_without_the_api_or_the_operator():
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["vystra_api"] = None  # any import of them now raises ImportError
        sys.modules["vystra_operator"] = None
        import vystra
        names = [m.name for m in pkgutil.walk_packages(vystra.__path__, "vystra.")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 20  # every module of the package was imported


def test_vystra_serve_finds_the_api_through_its_entry_point():
    from importlib.metadata import entry_points

    (found,) = entry_points(group="vystra.serve", name="api")
    assert found.value == "vystra_api.server:serve_with_banner"
    assert callable(found.load())


def test_the_worker_runs_without_a_kubernetes_client():
    """A worker holds no Kubernetes credential, so it has no use for the client: its whole
    command, with the kubernetes package blocked, gets as far as its arguments."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["kubernetes"] = None
        from vystra import worker
        sys.exit(worker.main(["--help"]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "--ingests" in out.stdout and "--namespace" in out.stdout
