"""One exception hierarchy for the library; the CLI turns each into a message and exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_LOCKED = 75


class PlnError(Exception):
    """Base error: a message saying what is wrong and a hint saying what to do next."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class FilterFileError(PlnError):
    """A filter file that cannot be used: `FILE:LINE: what is wrong; what to write instead`."""

    exit_code = EXIT_USAGE

    def __init__(self, path: str, line: int | None, message: str, hint: str = "") -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", hint)
        self.path = path
        self.line = line
        self.problem = message


class FilterFileErrors(FilterFileError):
    """Several problems in one filter file that YAML could read, in line order; acts as the first."""

    def __init__(self, errors: list[FilterFileError]) -> None:
        first = errors[0]
        super().__init__(first.path, first.line, first.problem, first.hint)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


class SourceError(PlnError):
    """One source failed (network, HTTP status, rate limit, bad data); the others go on."""

    def __init__(self, source: str, message: str, hint: str = "") -> None:
        super().__init__(f"source {source}: {message}", hint)
        self.source = source


class RateLimited(SourceError):
    """The server's rate limit is spent and its reset is too far away to wait for."""


class AuthError(PlnError):
    """Missing, unreadable or rejected credentials."""


class ArchiveError(PlnError):
    """The archive cannot be opened or written (read-only, disk full, corrupt)."""


class ArchiveLocked(PlnError):
    """Another run of the filter holds its run lock, or a write could not get the archive's write lock."""

    exit_code = EXIT_LOCKED


class UsageError(PlnError):
    """Bad arguments that click itself cannot catch (a bad --since, a bad URI)."""

    exit_code = EXIT_USAGE
