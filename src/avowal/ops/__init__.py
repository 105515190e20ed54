"""Operations: the worker's heartbeat, read by readiness (``/readyz``) and ``/metrics``."""
