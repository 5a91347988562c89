"""The one family of user-facing errors.

Library code raises these with a message a user can act on (file and line number where
they apply). The CLI prints the message on one line and exits non-zero; the server turns
it into a 4xx response. Anything else escaping is a bug.
"""


class HanyiError(Exception):
    """Base class: a problem with the user's input, files or settings."""


class ConfigError(HanyiError):
    """An unknown config key, a bad value, or an unreadable config file."""


class DataError(HanyiError):
    """Unreadable or malformed data (message names file:line)."""


class ModelLoadError(HanyiError):
    """A model directory that is missing, incomplete or corrupt."""


class InputError(HanyiError):
    """Bad text given to translate (e.g. invalid UTF-8 at a line)."""


class Cancelled(HanyiError):
    """The caller gave up (a client that left, a request past its deadline): the search
    stopped between two decoding steps, and its partial work was dropped."""
