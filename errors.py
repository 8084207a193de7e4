"""The suite's exception types.

Library modules raise these; only the hyphenated scripts turn them into one line on
stderr and an exit code (see cli.py). Messages name what a person needs to act (the
setting, file, report, publisher, table, column) and never carry a secret.
"""


class SuiteError(Exception):
    """Base of every error the suite raises on purpose. Exit code 1."""
    exit_code = 1


class ConfigurationError(SuiteError):
    """A setting, option or local file is missing or wrong: nothing was tried. Exit 2."""
    exit_code = 2
