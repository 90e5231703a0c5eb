"""File output that never leaves a half-written file behind."""
import io
import os
import os.path as osp
import tempfile

import cv2
import numpy as np


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix=osp.basename(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file's usual mode
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_image_atomic(path: str, image: np.ndarray) -> None:
    """Encode ``image`` (by the file's extension, e.g. PNG) and write it atomically."""
    ok, buf = cv2.imencode(osp.splitext(path)[1] or '.png', image)
    if not ok:
        raise ValueError(f'could not encode an image of shape {image.shape} for {path}')
    write_bytes_atomic(path, buf.tobytes())


def write_figure_atomic(path: str, figure, dpi: int = 100, close: bool = True, **kwargs) -> None:
    """Save a matplotlib figure as PNG atomically (``figure.savefig`` into memory first).

    Args:
        path (str): output file.
        figure (matplotlib.figure.Figure): the figure.
        dpi (int): resolution. Defaults to 100.
        close (bool): close the figure afterwards (``matplotlib.pyplot.close``).
        **kwargs: other ``savefig`` arguments, e.g. ``bbox_inches='tight'``.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=dpi, **kwargs)
    if close:
        import matplotlib.pyplot as plt
        plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())
