"""The two ways sending an email fails, as the outbox handles them."""


class PermanentFailure(Exception):
    """Refused for good (a 5xx reply, authentication refused): failed, not retried."""


class TemporaryFailure(Exception):
    """Worth trying again later (connection refused, a timeout, a 4xx reply)."""
