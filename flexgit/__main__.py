"""`python -m flexgit` runs the CLI; the post-commit hook's call takes a path without click."""

import sys

if sys.argv[1:] == ["hook", "post-commit"]:
    import gc

    gc.disable()  # a short process that makes few cycles: the collector's passes over the imports are waste
    from .cli.postcommit import main
else:
    from .cli import main

main()
