"""Errors a user can fix: the CLI prints them as one line and exits with status 2."""


class UserError(Exception):
    """Bad input (config, model, data): reported in one line, never with a traceback."""
