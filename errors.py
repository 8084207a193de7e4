"""The suite's exception types.

Library modules raise these; only the hyphenated scripts turn them into one line on
stderr and an exit code (see cli.py). Messages name what a person needs to act (the
setting, file, report, publisher, table, column) and never carry a secret.

The database's errors (DatabaseError and its kinds: login, permission, lost connection,
deadlock, no such table, a value that does not fit...) live in dbengine/errors.py,
re-exported by mysql_db.py; they are SuiteErrors too. Exceptions used only for control flow
inside one module (RunInterrupted, RetryBudgetExceeded, the simulator's SimError) stay
private to it.
"""


class SuiteError(Exception):
    """Base of every error the suite raises on purpose. Exit code 1."""
    exit_code = 1


class ConfigurationError(SuiteError):
    """A setting, option or local file is missing or wrong: nothing was tried. Exit 2."""
    exit_code = 2


class ApiError(SuiteError):
    """Index Exchange answered with an error, or could not be reached.

    The message names the endpoint and the status and carries the server's own message;
    never a token, password or API key.
    """

    def __init__(self, endpoint, status, message, path=None):
        where = f" ({path})" if path else ""
        status_text = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{endpoint}{where}: {status_text}: {message}")
        self.endpoint, self.status, self.server_message, self.path = endpoint, status, message, path


class AuthenticationError(ApiError):
    """401: credentials, token or API key refused."""


class CredentialsRefusedError(AuthenticationError):
    """The configured user name and password were refused at login: a configuration
    error (exit 2), found before anything else was sent."""
    exit_code = 2


class PermissionDeniedError(ApiError):
    """403: the object belongs to an account this user may not see."""


class NotFoundError(ApiError):
    """404: unknown id, deactivated spec, or a file not ready yet."""


class BadRequestError(ApiError):
    """400: the request was invalid; `code` is Index Exchange's (RSE-xxxx) when given."""

    def __init__(self, endpoint, status, message, path=None, code=None):
        super().__init__(endpoint, status, f"{message} [{code}]" if code else message, path)
        self.code = code


class RateLimitedError(ApiError):
    """429 after the retry budget ran out (or a Retry-After longer than the budget)."""

    def __init__(self, endpoint, status, message, path=None, retry_after=None):
        try:
            seconds = float(retry_after) if retry_after is not None else 0.0
        except ValueError:       # an HTTP date: say it as the server did
            seconds = None
        # A Retry-After of 0 (or none) asks for nothing: it is not "wait 0 s".
        hint = f" (server asks to wait {retry_after} s)" if seconds is None or seconds > 0 else ""
        super().__init__(endpoint, status, message + hint, path)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx after the retry budget ran out."""


class ApiUnavailableError(ApiError):
    """No usable answer: connection refused or dropped, timeouts, truncated bodies."""


# --- files ----------------------------------------------------------------------------------

class ReportFileError(SuiteError):
    """A downloaded report or CAL file cannot be read as CSV, or lacks columns it needs."""


class DownloadIntegrityError(SuiteError):
    """A downloaded file does not match the hash Index Exchange lists for it."""


class ForeignDownloadURLError(SuiteError):
    """A downloadURL on another host: the bearer token is never sent there."""


class PublisherColumnInFileError(SuiteError):
    """A report file brings a publisher_id column of its own; the suite adds it itself."""


class AlreadyLoadedError(SuiteError):
    """Another copy of the program loaded this file first; nothing was written twice."""
