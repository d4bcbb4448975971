"""The project's expected errors: one base class, so that a bug is never reported as bad input.

The CLI turns an :class:`InferenceLogsError` into its ``exit_code`` and a one-line message; any
other exception is a bug and keeps its traceback.
"""


class InferenceLogsError(Exception):
    """An expected error: bad input, config or tables. The message says what to fix."""
    exit_code = 2


class ConfigError(InferenceLogsError):
    """The configuration or the command-line arguments are invalid."""


class InputError(InferenceLogsError):
    """The payload table cannot be read as either generation."""


class TableError(InferenceLogsError):
    """A table cannot be read or written as asked."""


class RunLockedError(InferenceLogsError):
    """Another run holds the lock."""
    exit_code = 4
