"""Uploads that never completed go: the row, the partial object and the multipart parts.

An upload is abandoned once its URLs expired more than ``GRACE`` ago (a PUT that began just
before the expiry may still be streaming until then). Every API process sweeps; rows are
claimed with SKIP LOCKED, so replicas never sweep the same upload twice. The S3 store's bucket
rule (objectstore/s3.py, set when the sweeper starts) catches multipart uploads the API never
recorded.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from vystra.db import Database
from vystra.db import uploads as upload_rows
from vystra_api.objectstore import ObjectStore, ObjectStoreError

log = logging.getLogger(__name__)
GRACE = timedelta(hours=1)
BATCH = 100


class UploadSweeper:
    def __init__(self, db: Database, objects: ObjectStore, interval: float) -> None:
        self.db, self.objects, self.interval = db, objects, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upload-sweeper", daemon=True)

    def sweep(self, now: datetime | None = None) -> int:
        """Remove what is abandoned at ``now``; how many uploads went."""
        expired_before = (now or datetime.now(UTC)) - GRACE
        swept = 0
        while True:
            with self.db.connect() as conn, conn.transaction():
                batch = upload_rows.claim_abandoned(conn, expired_before, BATCH)
                removed = 0
                for upload in batch:
                    try:
                        self.objects.abandon(upload.object_key, upload.multipart_id)
                    except ObjectStoreError:  # kept: the next sweep tries again
                        log.warning("could not remove upload %s", upload.id, exc_info=True)
                        continue
                    upload_rows.delete_upload(conn, upload.id)
                    removed += 1
            swept += removed
            if len(batch) < BATCH or not removed or self._stop.is_set():
                return swept

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:  # the store's own rule, set here rather than on the start-up path
            self.objects.prepare()
        except ObjectStoreError as exc:  # e.g. no right to set bucket rules: sweeps go on
            log.warning("object store clean-up rule not set: %s", exc)
        while not self._stop.wait(self.interval):
            try:
                if swept := self.sweep():
                    log.info("removed %d abandoned uploads", swept)
            except Exception:  # noqa: BLE001 - the database may be back by the next pass
                log.warning("upload sweep failed", exc_info=True)
