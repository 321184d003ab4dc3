from vystra.k8s import progress, tenant_of


def body(namespace: str, labels: dict | None = None) -> dict:
    return {"metadata": {"namespace": namespace, "labels": labels}}


def test_tenant_comes_from_the_label_then_the_namespace():
    assert tenant_of(body("anything", {"vystra.io/tenant": "acme"})) == "acme"
    assert tenant_of(body("vystra-acme")) == "acme"  # the API's namespace for tenant acme
    assert tenant_of(body("media-team")) == "media-team"
    assert tenant_of(body("vystra-")) == "vystra-"


def test_progress_prints_a_bounded_percentage():
    assert progress(30, 120, 4) == {
        "processedSeconds": 30,
        "durationSeconds": 120,
        "segments": 4,
        "percent": "25%",
    }
    assert progress(130, 120, 9)["percent"] == "100%"
    assert progress(0, 0, 0)["percent"] == "0%"
