from vystra.k8s import progress


def test_progress_prints_a_bounded_percentage():
    assert progress(30, 120, 4) == {
        "processedSeconds": 30,
        "durationSeconds": 120,
        "segments": 4,
        "percent": "25%",
    }
    assert progress(130, 120, 9)["percent"] == "100%"
    assert progress(0, 0, 0)["percent"] == "0%"
