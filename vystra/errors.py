"""Errors a user can act on. Each carries a stable ``reason`` for API answers and CR status."""

from __future__ import annotations


class VystraError(Exception):
    """Base for failures caused by input or configuration, never by a bug."""

    reason = "Error"


class SourceError(VystraError):
    """The source could not be read: missing file, bad URL, unreachable host, denied."""

    reason = "SourceUnavailable"


class SourceForbidden(SourceError):
    """The source points at an address Vystra may not fetch from (internal, metadata, ...).

    Every such refusal carries the same message, whatever is or is not listening there.
    """

    reason = "SourceForbidden"


class MediaError(VystraError):
    """The bytes were read but are not usable media."""

    reason = "InvalidMedia"


class EmptyMediaError(MediaError):
    reason = "EmptyFile"


class NotMediaError(MediaError):
    reason = "NotMedia"


class NoAudioError(MediaError):
    reason = "NoAudioTrack"


class CorruptMediaError(MediaError):
    reason = "CorruptMedia"


class MediaTooLongError(MediaError):
    """Longer than the configured maximum, or decodes to more than its header declared."""

    reason = "MediaTooLong"


class TranscriptionError(VystraError):
    reason = "TranscriptionFailed"


class InsightsError(VystraError):
    reason = "InsightsFailed"


class NotFoundError(VystraError):
    reason = "NotFound"
