#!/usr/bin/env bash
# Set up .venv (first run only) and run the CPU demo: synthetic data, training, refinement,
# coarse vs refined metrics and overlays under work_dirs/demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" scripts/demo.py "$@"
