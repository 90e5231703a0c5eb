"""segrefiner.utils.io: atomic writes keep no temp file and give the usual file mode."""
import os

import numpy as np
import pytest

from segrefiner.utils.io import write_bytes_atomic, write_image_atomic


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(str(tmp_path / 'a.txt'), b'x')
        os.umask(0o077)
        write_bytes_atomic(str(tmp_path / 'b.txt'), b'y')
    finally:
        os.umask(old)
    assert (tmp_path / 'a.txt').stat().st_mode & 0o777 == 0o644
    assert (tmp_path / 'b.txt').stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt', 'b.txt']


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'x.png'
    write_image_atomic(str(path), np.zeros((4, 4), np.uint8))
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        write_image_atomic(str(path), np.full((4, 4), 255, np.uint8))
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1
