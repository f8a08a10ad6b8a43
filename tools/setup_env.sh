#!/usr/bin/env bash
# Builds .venv/ from nothing, or brings it in line with requirements/constraints.txt.
# Called by `make install`; safe to re-run (each step is a no-op when already satisfied).
# Why each odd step exists is written in ../shared/ENVIRONMENT.md (the "trap" numbers below).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY=$VENV/bin/python
CONSTRAINTS=requirements/constraints.txt
pin() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$CONSTRAINTS"; }

if [[ ! -x $PY ]]; then
  echo "[setup] creating $VENV with $(python3.11 --version)"
  python3.11 -m venv "$VENV"
fi
# uv does not read this machine's pip configuration, which would hand us a CPU-only torch
# that the registry's torchvision cannot run with (traps 1 and 2).
if [[ ! -x $VENV/bin/uv ]]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "uv==0.13.8"
fi
UV() { VIRTUAL_ENV=$PWD/$VENV "$VENV/bin/uv" pip "$@" --python "$PY" --constraint "$CONSTRAINTS"; }

echo "[setup] torch, torchvision and the pure-Python stack"
UV install --quiet torch torchvision "setuptools<81" wheel ninja numpy packaging cython
UV install --quiet mmengine timm \
  mmdet "pycocotools" shapely terminaltables \
  json-tricks munkres scipy matplotlib opencv-python pillow \
  decord einops onnx onnxruntime scikit-learn pytest addict yapf pyyaml rich \
  importlib_metadata
# chumpy cannot build and is never imported (trap 7); mmaction2's wheel asks for
# opencv-contrib-python, which would clobber opencv-python's cv2.
UV install --quiet --no-deps mmpose mmaction2
# The registry's xtcocotools wheel was compiled against numpy 1 (trap 6).
# Its setup.py imports numpy without declaring it, hence no build isolation.
UV install --quiet --no-build-isolation --no-binary xtcocotools xtcocotools

# mmcv has no wheel for this torch: build it once per (mmcv, torch, python) and keep the
# wheel in a cache keyed on all three, since pip's own cache ignores the torch version (traps 4, 5).
MMCV=$(pin mmcv); TORCH=$(pin torch)
PYV=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
CACHE=${VIT_SCALED_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vit_scaled/wheels}/mmcv-$MMCV-torch$TORCH-$PYV
have_mmcv() {
  "$PY" - "$MMCV" "$TORCH" <<'PY' 2>/dev/null
import sys, torch, mmcv, mmcv.ops  # mmcv.ops fails if the extension was built for another torch
sys.exit(0 if (mmcv.__version__, torch.__version__.split('+')[0]) == tuple(sys.argv[1:]) else 1)
PY
}
if ! have_mmcv; then
  if ! ls "$CACHE"/mmcv-*.whl >/dev/null 2>&1; then
    echo "[setup] building mmcv $MMCV with ops against torch $TORCH (about 10 min on 2 cores)"
    mkdir -p "$CACHE.partial"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "$VENV/bin/pip" wheel --no-deps --no-build-isolation \
      --no-cache-dir --no-binary mmcv --disable-pip-version-check \
      -w "$CACHE.partial" "mmcv==$MMCV"
    rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"   # a half-built cache never looks finished
  fi
  UV install --quiet --reinstall-package mmcv "$CACHE"/mmcv-*.whl
  have_mmcv || { echo "[setup] mmcv $MMCV does not import against torch $TORCH" >&2; exit 1; }
fi

echo "[setup] vit_scaled (editable)"
UV install --quiet --no-deps -e .
"$PY" -c 'import torch, torchvision, timm, mmcv.ops, mmdet, mmpose, mmaction, vit_scaled; print("[setup] ok: torch", torch.__version__, "mmcv", mmcv.__version__)'
