"""vystra/videoingest.py and the CRD schema say the same thing."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from vystra.videoingest import (
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    Accelerator,
    ConditionType,
    Phase,
    Segmenting,
    Spec,
)

CRD = Path(__file__).resolve().parents[1] / "crds" / "vystra.io_videoingests.yaml"


def schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    assert crd["spec"]["group"] == GROUP and crd["spec"]["names"]["kind"] == KIND
    assert crd["spec"]["names"]["plural"] == PLURAL
    [version] = crd["spec"]["versions"]
    assert version["name"] == VERSION
    return version["schema"]["openAPIV3Schema"]["properties"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def test_spec_fields_match_the_schema():
    props = schema()["spec"]["properties"]
    typed = {camel(f.name) for f in dataclasses.fields(Spec)}
    assert typed == set(props)


def test_enums_and_defaults_match_the_schema():
    props = schema()
    assert props["status"]["properties"]["phase"]["enum"] == [p.value for p in Phase]
    spec = props["spec"]["properties"]
    assert spec["accelerator"]["enum"] == [a.value for a in Accelerator]
    assert spec["accelerator"]["default"] == Spec.accelerator.value
    assert spec["insights"]["default"] is Spec.insights
    assert spec["retain"]["default"] is Spec.retain
    assert spec["priority"]["default"] == Spec.priority
    seg = spec["segmenting"]["properties"]
    assert seg["targetSeconds"]["default"] == Segmenting.target_seconds
    assert seg["overlapSeconds"]["default"] == Segmenting.overlap_seconds


def test_every_condition_type_is_documented():
    described = schema()["status"]["properties"]["conditions"]["description"]
    for condition in ConditionType:
        assert re.search(rf"\b{condition.value}\b", described), condition


def test_spec_from_a_body_applies_defaults_and_types():
    spec = Spec.from_body(
        {
            "spec": {
                "source": "s3://b/k.mp4",
                "accelerator": "gpu",
                "segmenting": {"targetSeconds": 20},
            }
        }
    )
    assert spec.accelerator is Accelerator.GPU and spec.segmenting.target_seconds == 20.0
    assert spec.segmenting.overlap_seconds == 3.0 and spec.insights and not spec.retain
