#!/usr/bin/env bash
# Create .venv/ at the repository root with the pinned working set and segrefiner installed in
# editable mode. Idempotent: a second run with unchanged requirements finishes in seconds.
#
#   bash scripts/setup_env.sh            # set up (or verify) .venv
#   SEGREFINER_FORCE_SETUP=1 bash ...    # reinstall even if the stamp matches
#
# mmcv 2.1.0 (with compiled ops) has no wheel for torch 2.14: a prebuilt wheel in
# ../shared/wheels/ is used when one matches this Python, otherwise it is built from the PyPI
# sdist (about 20 minutes on 2 cores) with the C++20 fix that torch 2.14's headers need.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
WHEEL_DIR="${SEGREFINER_WHEEL_DIR:-$ROOT/../shared/wheels}"

log() { printf '[setup] %s\n' "$*" >&2; }

# The stamp records everything that decides the installed set; a match means nothing to do.
stamp_input() {
    cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" "$0"
    "$PY" --version 2>&1
}
STAMP_WANT="$(stamp_input | sha256sum | cut -d' ' -f1)"
STAMP_FILE="$VENV/.segrefiner-setup"
if [[ -z "${SEGREFINER_FORCE_SETUP:-}" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP_WANT" ]] \
        && "$VENV/bin/python" -c 'import segrefiner, mmcv.ops' >/dev/null 2>&1; then
    log ".venv is up to date"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $("$PY" --version 2>&1)"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check --no-input)

log "installing build tools and torch"
"${PIP[@]}" install -q torch==2.14.1 torchvision==0.29.1
# torch needs setuptools>=77.0.3; mmengine's package lookup needs pkg_resources (gone in 81).
SETUPTOOLS="setuptools>=77.0.3,<81"
"${PIP[@]}" install -q "$SETUPTOOLS" wheel ninja psutil "numpy<2"

if ! "$VPY" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' >/dev/null 2>&1; then
    PYTAG="cp$("$VPY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
    WHEEL="$(ls "$WHEEL_DIR"/mmcv-2.1.0-"$PYTAG"-"$PYTAG"-linux_"$(uname -m)".whl 2>/dev/null | head -n1 || true)"
    if [[ -n "$WHEEL" ]]; then
        log "installing prebuilt $WHEEL"
        "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
    else
        log "no prebuilt mmcv wheel in $WHEEL_DIR: building mmcv 2.1.0 from source (~20 min)"
        WRAP="$(mktemp -d)"
        trap 'rm -rf "$WRAP"' EXIT
        cat > "$WRAP/cxx" <<'EOF'
#!/usr/bin/env bash
# mmcv's setup.py passes -std=c++17; torch 2.14's headers need C++20.
args=()
for a in "$@"; do [[ "$a" == -std=c++17 ]] && args+=(-std=c++20) || args+=("$a"); done
exec g++ "${args[@]}"
EOF
        chmod +x "$WRAP/cxx"
        # mmcv 2.1.0's setup.py builds with setuptools<70 only.
        "${PIP[@]}" install -q "setuptools<70"
        CXX="$WRAP/cxx" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
            "${PIP[@]}" install --no-build-isolation --no-deps --no-binary mmcv mmcv==2.1.0
        "${PIP[@]}" install -q "$SETUPTOOLS"
    fi
fi

log "installing the OpenMMLab set and the other pinned requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" install -q --no-deps -r "$ROOT/requirements/openmmlab.txt"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

"$VPY" - <<'EOF'
import mmcv, mmcv.ops, mmdet, mmseg, mmengine, torch, numpy, segrefiner  # noqa: F401
print(f'[setup] torch {torch.__version__}, mmcv {mmcv.__version__} (ops), mmengine '
      f'{mmengine.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, '
      f'numpy {numpy.__version__}')
EOF
echo "$STAMP_WANT" > "$STAMP_FILE"
log "done: activate with 'source .venv/bin/activate'"
