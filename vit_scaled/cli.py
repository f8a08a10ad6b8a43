"""What the command-line tools share: how a run names itself in what it writes, and how a bad
input ends it (status 2 and one line naming the input, not a traceback)."""
import shlex
import sys
from typing import Callable, Type


def command_line() -> str:
    """This process's command, quoted so that it can be pasted again: ``python tools/x.py ...``."""
    return shlex.join(['python'] + sys.argv)


def run_cli(main: Callable[[], None], *errors: Type[Exception]) -> None:
    """Run ``main``; any of ``errors`` exits with status 2 and its message."""
    try:
        main()
    except errors as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
