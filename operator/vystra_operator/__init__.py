"""The Vystra operator: reconciles VideoIngest resources into worker Jobs on GPU/CPU pools."""

MANAGED_BY = "vystra-operator"
