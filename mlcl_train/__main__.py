"""`python -m mlcl_train`: Ctrl-C and SIGTERM are handled from the first moment, before typer loads."""

import sys

from mlcl_train import signals
from mlcl_train.errors import Stopped

signals.install_for_process()
try:
    from mlcl_train.cli import main
except Stopped as stop:
    print(f"interrupted ({stop})", file=sys.stderr)
    sys.exit(stop.exit_code)
main()
