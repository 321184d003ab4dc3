"""JSON log records carry the context of the work they belong to, in threads too."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading

from vystra import logs


def test_records_carry_the_context_of_their_work() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger("vystra.test.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("outside")
        with logs.bound(tenant="acme", ingest="vystra-acme/talk"):
            with logs.bound(request_id="r-1"):
                log.info("inner %s", "work", extra={"fields": {"segments": 3}})
            log.warning("outer")
            # a thread that copies the context (as FastAPI's thread pool does) carries it
            copied = contextvars.copy_context()
            worker = threading.Thread(target=copied.run, args=(log.info, "in a thread"))
            worker.start()
            worker.join()
            try:
                raise ValueError("broken")
            except ValueError:
                log.exception("failed")
        log.info("after")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    assert set(by_message["outside"]) == {"time", "level", "logger", "message"}
    inner = by_message["inner work"]
    assert (inner["tenant"], inner["ingest"], inner["request_id"]) == (
        "acme",
        "vystra-acme/talk",
        "r-1",
    )
    assert inner["segments"] == 3 and inner["level"] == "INFO"
    assert "request_id" not in by_message["outer"] and by_message["outer"]["tenant"] == "acme"
    assert by_message["in a thread"]["ingest"] == "vystra-acme/talk"
    assert "ValueError: broken" in by_message["failed"]["exception"]
    assert "tenant" not in by_message["after"]
