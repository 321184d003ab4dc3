"""Vystra: turn videos into searchable, time-coded segments."""

__version__ = "0.1.0"
