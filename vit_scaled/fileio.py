"""Writing a file so that a reader never sees half of it: a temporary file in the same folder,
flushed to disk, then renamed over the destination (atomic on POSIX). A failure removes the
temporary file and leaves any earlier file as it was."""
import contextlib
import os
import tempfile
from typing import IO, Iterator, Union


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w', **kwargs) -> Iterator[IO]:
    """``with atomic_open(path, 'w') as f: ...``; ``mode`` is ``'w'`` or ``'wb'``, ``kwargs``
    go to ``open`` (``newline``, ``encoding``)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what open() would have made, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_atomically(path: str, data: Union[str, bytes]) -> None:
    with atomic_open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
        f.write(data)
