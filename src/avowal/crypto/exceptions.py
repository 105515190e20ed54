"""Key problems an operator must fix."""

from __future__ import annotations


class KeyError_(Exception):
    """A key file is missing, unreadable or malformed; the message says which and why."""


class UnknownMasterKey(KeyError_):
    """A data key is wrapped by a master key this server does not hold."""
