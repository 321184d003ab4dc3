"""Uploads that never completed go: the row, the partial object and the multipart parts.

An upload is abandoned once its URLs expired more than ``GRACE`` ago (a PUT that began just
before the expiry may still be streaming until then). Every API process sweeps; rows are
claimed with SKIP LOCKED, so replicas never sweep the same upload twice. The S3 store's bucket
rule (objectstore/s3.py, set when the sweeper starts) catches multipart uploads the API never
recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from vystra.db import Database
from vystra.db import uploads as upload_rows
from vystra_api.objectstore import ObjectStore, ObjectStoreError
from vystra_api.periodic import Periodic

log = logging.getLogger(__name__)
GRACE = timedelta(hours=1)
BATCH = 100


class UploadSweeper(Periodic):
    def __init__(self, db: Database, objects: ObjectStore, interval: float) -> None:
        super().__init__("upload-sweeper", interval)
        self.db, self.objects = db, objects

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
            if len(batch) < BATCH or not removed or self.stopping:
                return swept

    def before(self) -> None:
        try:  # the store's own rule, set here rather than on the start-up path
            self.objects.prepare()
        except ObjectStoreError as exc:  # e.g. no right to set bucket rules: sweeps go on
            log.warning("object store clean-up rule not set: %s", exc)

    def tick(self) -> None:
        if swept := self.sweep():
            log.info("removed %d abandoned uploads", swept)
