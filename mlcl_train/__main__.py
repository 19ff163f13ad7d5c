"""The mlcl-train command (and `python -m mlcl_train`): Ctrl-C and SIGTERM are handled from the
first moment, before typer and the rest load, so they end it with 130 or 143, never a traceback."""

import sys

from mlcl_train.core import signals
from mlcl_train.core.errors import Stopped


def main() -> None:
    signals.install_for_process()
    try:
        from mlcl_train.cli.app import main as run
    except Stopped as stop:
        print(f"interrupted ({stop})", file=sys.stderr)
        sys.exit(stop.exit_code)
    run()


if __name__ == "__main__":
    main()
