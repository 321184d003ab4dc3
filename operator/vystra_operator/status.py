"""metav1.Condition lists in status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[dict[str, Any]] | None,
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """Return the list with ``type_`` set; lastTransitionTime moves only when status flips."""
    value = "True" if status else "False"
    out = [dict(c) for c in conditions or []]
    for cond in out:
        if cond["type"] == type_:
            if cond["status"] != value:
                cond["lastTransitionTime"] = now()
            cond.update(status=value, reason=reason, message=message[:32768])
            if generation is not None:
                cond["observedGeneration"] = generation
            return out
    new: dict[str, Any] = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message[:32768],
        "lastTransitionTime": now(),
    }
    if generation is not None:
        new["observedGeneration"] = generation
    return [*out, new]
