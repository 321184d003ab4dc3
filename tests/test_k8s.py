import pytest

from vystra.k8s import (
    REQUEST_ID_ANNOTATION,
    TRACEPARENT_ANNOTATION,
    Caller,
    WorkerIngest,
    decode_ingests,
    encode_ingests,
    progress,
)


def test_progress_prints_a_bounded_percentage():
    assert progress(30, 120, 4) == {
        "processedSeconds": 30,
        "durationSeconds": 120,
        "segments": 4,
        "percent": "25%",
    }
    assert progress(130, 120, 9)["percent"] == "100%"
    assert progress(0, 0, 0)["percent"] == "0%"
    # how far the visual stages read, only while they run
    assert progress(30, 120, 4, 61.234)["visualSeconds"] == 61.23
    assert "visualSeconds" not in progress(30, 120, 4)


def test_a_worker_jobs_ingests_round_trip_with_their_logins_out_of_the_arguments():
    ingests = [
        WorkerIngest(
            "a",
            "u1",
            {"source": "s3://b/a.mp4"},
            600.0,
            "r1",
            "p1",
            "https://s/a",
            "req-7",
            traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        ),  # fmt: skip
        WorkerIngest("b", "u2", {"source": "https://x/b.mp4"}, None, "r2", "p2"),
    ]
    argument, logins = encode_ingests(ingests)
    assert "p1" not in argument and "s3://b/a.mp4" in argument
    assert decode_ingests(argument, logins) == ingests
    # a local run: no logins, the settings' own database credentials
    assert decode_ingests(argument, None)[0].user is None
    with pytest.raises(ValueError, match="one login per ingest"):
        decode_ingests(argument, '[{"user": "r1", "password": "p1"}]')
    with pytest.raises(ValueError, match="non-empty"):
        decode_ingests("[]", None)
    # a request id that could forge a log line is dropped, not passed on
    forged = encode_ingests(
        [WorkerIngest("c", "u3", {}, request_id='x"\n{"level": "', traceparent="00-" + "0" * 900)]
    )
    assert decode_ingests(*forged)[0].request_id is None
    assert decode_ingests(*forged)[0].traceparent is None  # and a traceparent not in W3C form


def test_the_caller_of_a_videoingest_is_read_from_checked_annotations():
    traceparent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    made_by_the_api = {
        "annotations": {REQUEST_ID_ANNOTATION: "req-42", TRACEPARENT_ANNOTATION: traceparent}
    }
    assert Caller.of(made_by_the_api) == Caller("req-42", traceparent)
    # a kubectl user writes anything there: what could forge a log line or a header is dropped
    forged = {"annotations": {REQUEST_ID_ANNOTATION: 'x"\n{', TRACEPARENT_ANNOTATION: "00-zz"}}
    assert Caller.of(forged) == Caller()
    assert Caller.of({}) == Caller()
