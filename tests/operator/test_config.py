"""The operator's configuration refuses what its core cannot run."""

from __future__ import annotations

import pytest

from vystra_operator.config import OperatorSettings


def test_batching_needs_a_multi_ingest_worker():
    ok = OperatorSettings(pools_yaml="flavors: [{name: cpu}]").scheduling()
    assert [f.name for f in ok.flavors] == ["cpu"] and ok.batch_max == 1
    with pytest.raises(ValueError, match="several ingests per Job"):
        OperatorSettings(pools_yaml="flavors: [{name: cpu}]\nbatch_max: 3").scheduling()
