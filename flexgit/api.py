"""The public API: every CLI verb as a function, and the FLEX classes. A thin front, nothing else."""

from .errors import FlexgitError
from .flex.components import BaseDataLoader, BaseDataPreprocessor, BaseLearner, BaseModel
from .flex.config import Configuration
from .flex.experiment import Application, Experiment
from .storage.run import Run
from .verbs.checkout import checkout, checkout_back
from .verbs.fsck import fsck
from .verbs.hook import install as install_hook
from .verbs.hook import status as hook_status
from .verbs.hook import uninstall as uninstall_hook
from .verbs.import_csv import import_csv
from .verbs.init import init
from .verbs.launch import collect, run, status
from .verbs.log import finish, log, logging
from .verbs.migrate import migrate
from .verbs.record import record
from .verbs.note import note
from .verbs.rename import rename
from .verbs.gc import gc
from .verbs.rm import rm
from .verbs.show import artifact, show
from .verbs.sync import pull, push, sync
from .verbs.table import list_runs, table
from .verbs.tag import tag
from .verbs.update import update
from .view.query import TableQuery

__all__ = [
    "Application", "BaseDataLoader", "BaseDataPreprocessor", "BaseLearner", "BaseModel", "Configuration",
    "Experiment", "FlexgitError", "Run", "TableQuery", "artifact", "checkout", "checkout_back", "collect", "finish",
    "fsck", "gc",
    "hook_status", "import_csv", "init", "install_hook", "list_runs", "log", "logging", "migrate", "note", "pull",
    "push", "record", "rename", "rm", "run", "show", "status", "sync", "table", "tag", "uninstall_hook",
    "update",
]
