"""The public API: every CLI verb as a function, and the FLEX classes. A thin front, nothing else."""

from .errors import FlexgitError
from .flex.components import BaseDataLoader, BaseDataPreprocessor, BaseLearner, BaseModel
from .flex.config import Configuration
from .flex.experiment import Application, Experiment
from .storage.run import Run
from .verbs.checkout import checkout, checkout_back
from .verbs.checkpoint import checkpoint
from .verbs.compare import compare
from .verbs.diff import diff
from .verbs.fsck import fsck
from .verbs.get import get
from .verbs.hook import install as install_hook
from .verbs.hook import status as hook_status
from .verbs.hook import uninstall as uninstall_hook
from .verbs.import_csv import import_csv
from .verbs.init import init
from .verbs.launch import collect, run, status
from .verbs.log import finish, log, logging
from .verbs.migrate import migrate
from .integrations.notebook import record  # verbs.record, aware of the notebook it is called from
from .verbs.note import note
from .verbs.plot import plot
from .verbs.rename import rename
from .verbs.gc import gc
from .verbs.report import report
from .verbs.rm import rm
from .verbs.show import artifact, show
from .verbs.sync import pull, push, sync
from .verbs.table import list_runs, table
from .verbs.tag import tag
from .verbs.ui import ui
from .verbs.update import update
from .view.query import TableQuery

__all__ = [
    "Application", "BaseDataLoader", "BaseDataPreprocessor", "BaseLearner", "BaseModel", "Configuration", "Experiment",
    "FlexgitError", "Run", "TableQuery", "artifact", "checkout", "checkout_back", "checkpoint", "collect", "finish",
    "fsck", "gc", "get", "hook_status", "import_csv", "init", "install_hook", "list_runs", "log", "logging", "migrate",
    "note", "pull", "push", "record", "rename", "report", "rm", "run", "show", "status", "sync", "table", "tag", "ui",
    "uninstall_hook", "update", "compare", "diff", "plot",
]
