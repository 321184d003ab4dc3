"""Deleting a video removes its segments (by cascade) and the uploaded object behind it."""

from __future__ import annotations

import logging

import psycopg

from vystra import webhooks
from vystra.db import store
from vystra.db.listing import video_ids_with_source
from vystra.objectkeys import owned_by
from vystra_api.objectstore import ObjectStore, ObjectStoreError

log = logging.getLogger(__name__)


def delete_video(
    conn: psycopg.Connection, objects: ObjectStore, tenant: str, video_id: str
) -> bool:
    """Delete the tenant's video; False if it has none by that id."""
    video = store.get_video(conn, tenant, video_id)
    if video is None or not store.delete_video(conn, tenant, video_id):
        return False
    webhooks.video_deleted(conn, tenant, video_id)
    key = objects.key_for_source(video.source)
    # only the tenant's own upload, and only when no other video of theirs reads it
    if (
        key
        and owned_by(key, tenant)
        and not video_ids_with_source(conn, tenant, *objects.sources(key))
    ):
        conn.execute("DELETE FROM uploads WHERE tenant = %s AND object_key = %s", (tenant, key))
        try:
            objects.delete(key)
        except ObjectStoreError:  # the rows are gone; an orphaned object is only storage
            log.warning("could not delete object %s of video %s", key, video_id, exc_info=True)
    return True
