"""Loss curves of mmengine training runs as one PNG.

Each LOG is one of:

- a work dir (``tools/train.py --work-dir``): its latest run, the last ``YYYYmmdd_HHMMSS``
  folder that holds a log;
- a run folder ``WORK_DIR/YYYYmmdd_HHMMSS``: its ``vis_data/scalars.json``, else its
  ``vis_data/YYYYmmdd_HHMMSS.json``, else its ``.log``;
- a JSON-lines scalar file (``vis_data/scalars.json``, ``vis_data/YYYYmmdd_HHMMSS.json``): one
  record per logged iteration; training records are those with an ``iter`` key, plotted at their
  ``step`` (the global iteration);
- a text log (``YYYYmmdd_HHMMSS.log``): its ``Iter(train) [i/N]`` lines at iteration ``i`` and
  ``Epoch(train) [e][i/N]`` lines at ``(e - 1) · N + i``.

Every key is drawn in its own panel (losses of different scales stay readable), every log as one
line in each panel. The PNG is written atomically with matplotlib's Agg backend.

Examples:
    python tools/analysis_tools/plot_loss.py work_dirs/diffseg_cpu
    python tools/analysis_tools/plot_loss.py work_dirs/a work_dirs/b --legend eps v \\
        --keys loss --out loss.png
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from segrefiner.utils.io import write_figure_atomic  # noqa: E402

#: A training curve: (steps, values) of one key, in log order.
Curve = Tuple[List[int], List[float]]

RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
TRAIN_LINE = re.compile(r'(?:Iter\(train\)\s*\[\s*(\d+)/\s*\d+\]'
                        r'|Epoch\(train\)\s*\[\s*(\d+)\]\s*\[\s*(\d+)/\s*(\d+)\])')
# "name: value" pairs of a log line; "eta: 0:01:02" is no number and is left out
SCALAR = re.compile(r'([\w.\-/]+): (-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|nan|inf)(?=\s|$)')
NOT_PLOTTED = ('iter', 'step', 'epoch')


class LogError(ValueError):
    """A log that cannot be found or read, or holds no training records."""


def _run_log(run_dir: str) -> Optional[str]:
    """The log file of one run folder: scalars.json, the LoggerHook's json, or the text log."""
    stamp = osp.basename(osp.normpath(run_dir))
    for path in (osp.join(run_dir, 'vis_data', 'scalars.json'),
                 osp.join(run_dir, 'vis_data', f'{stamp}.json'),
                 osp.join(run_dir, f'{stamp}.log')):
        if osp.isfile(path):
            return path
    return None


def resolve_log(path: str) -> str:
    """The log file that ``path`` (a file, a run folder or a work dir) names.

    Raises:
        LogError: nothing there, or a folder without any run log.
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise LogError(f'log not found: {path}')
    found = _run_log(path)
    if found:
        return found
    runs = sorted(name for name in os.listdir(path)
                  if RUN_DIR.match(name) and _run_log(osp.join(path, name)))
    if not runs:
        raise LogError(f'{path} holds no training log: expected a run folder YYYYmmdd_HHMMSS '
                       f'with vis_data/scalars.json or a .log file')
    return _run_log(osp.join(path, runs[-1]))


def read_json_log(path: str) -> List[Dict[str, float]]:
    """Training records of a JSON-lines scalar file, each with its ``step``."""
    records = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise LogError(f'{path}, line {number}: not a JSON record ({error.msg})') from None
            if not isinstance(record, dict):
                raise LogError(f'{path}, line {number}: not a JSON object')
            if 'iter' in record:
                record.setdefault('step', record['iter'])
                records.append(record)
    return records


def read_text_log(path: str) -> List[Dict[str, float]]:
    """Training records of an mmengine text log, each with its ``step``."""
    records = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            match = TRAIN_LINE.search(line)
            if not match:
                continue
            if match.group(1) is not None:
                step = int(match.group(1))
            else:
                epoch, index, length = (int(match.group(g)) for g in (2, 3, 4))
                step = (epoch - 1) * length + index
            record = {key: float(value) for key, value in SCALAR.findall(line[match.end():])}
            record['step'] = step
            records.append(record)
    return records


def read_log(path: str) -> List[Dict[str, float]]:
    """Training records of a log (:func:`resolve_log` finds the file).

    Raises:
        LogError: the file is missing, unreadable or holds no training record.
    """
    file = resolve_log(path)
    records = read_text_log(file) if file.endswith('.log') else read_json_log(file)
    if not records:
        raise LogError(f'{file} holds no training record (no "iter" records / Iter(train) or '
                       f'Epoch(train) lines)')
    return records


def curves(records: Sequence[Dict[str, float]], keys: Sequence[str]) -> Dict[str, Curve]:
    """For each key, the steps and values of the records that have it."""
    out: Dict[str, Curve] = {}
    for key in keys:
        steps = [int(r['step']) for r in records if key in r]
        values = [float(r[key]) for r in records if key in r]
        if steps:
            out[key] = (steps, values)
    return out


def loss_keys(records: Sequence[Dict[str, float]]) -> List[str]:
    """The keys whose name contains ``loss``, ``loss`` itself first, then in log order."""
    keys: List[str] = []
    for record in records:
        keys.extend(k for k in record if 'loss' in k and k not in keys)
    return sorted(keys, key=lambda k: k != 'loss')


def plot(logs: Sequence[Tuple[str, List[Dict[str, float]]]], keys: Sequence[str], out: str,
         title: Optional[str] = None) -> None:
    """One panel per key, one line per log; the PNG written atomically to ``out``.

    Args:
        logs (Sequence[tuple]): ``(legend name, training records)`` pairs (:func:`read_log`).
        keys (Sequence[str]): the keys to draw (each present in at least one log).
        out (str): the PNG path.
        title (str, optional): the figure title.
    """
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.6 * len(keys)), sharex=True,
                             squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for name, records in logs:
            found = curves(records, [key]).get(key)
            if found:
                ax.plot(*found, label=name, linewidth=1.2)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel('iteration')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    write_figure_atomic(out, fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('logs', nargs='+', metavar='LOG',
                        help='work dir, run folder, scalars.json or .log file')
    parser.add_argument('--keys', nargs='+',
                        help='keys to plot (default: every key with "loss" in its name in any '
                        'of the logs)')
    parser.add_argument('--legend', nargs='+', help='one name per LOG (default: the paths)')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--out', default='loss_curves.png', help='output PNG')
    args = parser.parse_args(argv)
    if args.legend and len(args.legend) != len(args.logs):
        parser.error(f'--legend has {len(args.legend)} names for {len(args.logs)} logs')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Plot the curves; 0 on success, 1 with a message for a bad log or key."""
    args = parse_args(argv)
    names = args.legend or args.logs
    try:
        logs = [(name, read_log(path)) for name, path in zip(names, args.logs)]
    except (LogError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    keys = args.keys or loss_keys([r for _, records in logs for r in records])
    available = sorted({k for _, records in logs for r in records for k in r} -
                       set(NOT_PLOTTED))
    missing = [k for k in keys if k not in available]
    if not keys or missing:
        print(f'error: no training record has {", ".join(missing) or "a loss key"}; the logs '
              f'have: {", ".join(available)}', file=sys.stderr)
        return 1
    plot(logs, keys, args.out, args.title)
    print(f'{", ".join(keys)} of {len(logs)} log(s) plotted to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
