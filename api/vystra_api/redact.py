"""What clients see of values recorded on the server: never a path on the server.

The source recorded for a video (and, in local mode, for an ingest) is what the pipeline read:
a file under ``VYSTRA_HOME/objects`` for an upload. A client gets back what it gave instead:
the upload's object key (``uploads/<tenant>/...``, the tenant's own) or its URL. Messages may
quote a path too (the media library names the file it failed to open): those lose the
server's folders.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from vystra.objectkeys import owned_by
from vystra_api.objectstore import ObjectStore

CLIENT_SCHEMES = ("http", "https", "s3")  # sources a client writes itself


def client_source(objects: ObjectStore, tenant: str, source: str) -> str | None:
    """The source as the tenant knows it; None when it is nothing the tenant gave (a file on
    the server ingested with the CLI, another tenant's object)."""
    key = objects.key_for_source(source)
    if key is not None:
        return key if owned_by(key, tenant) else None
    if urlparse(source).scheme in CLIENT_SCHEMES:
        return source
    return None


class PathScrubber:
    """Removes the server's ``VYSTRA_HOME`` from text: an object's path becomes its key."""

    def __init__(self, home: Path) -> None:
        homes = {str(home), str(home.expanduser()), str(home.expanduser().resolve())}
        objects = {f"{h}/objects/" for h in homes}
        # longest first: an object's folder goes before the home folder around it
        alternatives = sorted(objects | homes, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(a) for a in alternatives))

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        return self._pattern.sub(
            lambda m: "" if m.group().endswith("/objects/") else "$VYSTRA_HOME", text
        )


@lru_cache(maxsize=4)
def scrubber(home: Path) -> PathScrubber:
    """The scrubber of one ``VYSTRA_HOME`` (settings live as long as the process)."""
    return PathScrubber(home)
