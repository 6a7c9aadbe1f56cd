"""Errors that the CLI turns into one clear line and an exit status (CONTRACT.md §2)."""


class CustodesError(Exception):
    """The command ran but could not do what was asked (bad input): exit status 1."""

    exit_code = 1


class UsageError(CustodesError):
    """Wrong usage (bad option values the parser could not catch): exit status 2."""

    exit_code = 2
