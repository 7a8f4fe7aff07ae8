"""The errors flexgit raises. Each message says what to do next; only the CLI prints them."""


class FlexgitError(Exception):
    """Base of every error flexgit reports to the user."""


class NotARepositoryError(FlexgitError):
    """The path is not inside a git repository."""


class BareRepositoryError(FlexgitError):
    """The operation needs a working tree and the repository has none."""


class InputError(FlexgitError):
    """A file, value or name given by the user cannot be used."""


class RunExistsError(FlexgitError):
    """A run of that name is already recorded."""


class UnknownRunError(FlexgitError):
    """No run of that name or id is recorded."""


class BranchError(FlexgitError):
    """The experiments branch cannot be used (it exists and is not flexgit's, ...)."""


class DirtyTreeError(FlexgitError):
    """The working tree has uncommitted changes that an operation would overwrite."""


class ConcurrencyError(FlexgitError):
    """A reference kept moving under us or stayed locked; nothing was written."""



class WriteError(FlexgitError):
    """git could not store an object (full disk, read-only object store); nothing was recorded."""


class TrustError(FlexgitError):
    """An artifact that would run code when loaded (a pickle) comes from a run flexgit cannot vouch for."""


class NewerFormatError(FlexgitError):
    """The repository was written by a newer flexgit's storage format; nothing was written."""


class MissingDependencyError(FlexgitError):
    """An optional library a command needs (matplotlib for plots) is not installed."""
