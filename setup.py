"""Installation of the segrefiner package (``pip install -e .``).

The pinned working set lives in ``requirements/``; ``scripts/setup_env.sh`` installs it into
``.venv/`` (mmcv with compiled ops cannot come from PyPI as a wheel, see README).
"""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>``, without comments."""
    lines = (ROOT / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


def read_version() -> str:
    """``__version__`` from ``segrefiner/version.py`` without importing the package."""
    scope: dict = {}
    exec((ROOT / 'segrefiner' / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='segrefiner',
    version=read_version(),
    description='Model-agnostic segmentation refinement (SegRefiner) as an OpenMMLab plugin',
    long_description=(ROOT / 'README.md').read_text() if (ROOT / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['segrefiner', 'segrefiner.*']),
    # the bundled refiner: its config and weights (segrefiner/model_zoo)
    package_data={'segrefiner': ['model_zoo/*.py', 'model_zoo/*.pth']},
    install_requires=['torch==2.14.1', 'torchvision==0.29.1', 'mmcv==2.1.0'] +
    read_requirements('openmmlab.txt') + read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    zip_safe=False,
)
