#!/usr/bin/env bash
# The prepared GPU run (benchmarks/gpu.py): device tests, the report's text model, torchrun over nccl and timings
# against cuDNN, PyG and PyTorch Geometric Temporal, in one call of at most 8 minutes. What each step does, and what
# it writes, is in benchmarks/gpu.py's docstring and docs/benchmarks.md ("A prepared GPU run").
#
# On a GPU machine with torch and PyG installed, from the repository's root:
#
#        bash benchmarks/gpu.sh --out DIR
#
# (the PyTorch Geometric Temporal comparison is skipped, and says so, where that package is not installed). For a
# GPU machine without network:
#
# 1. Where there is network, once: copy the data the steps read (the default text corpus and Cora, 1.7 MB) and the
#    PyTorch Geometric Temporal wheel into .gpu/, a folder that this adds to the checkout's .git/info/exclude
#    (SEQGRAPH_DATA, else ~/.cache/seqgraph, is the data directory to copy from):
#
#        bash benchmarks/gpu.sh --prepare
#
# 2. Copy the repository with .gpu/ to the GPU machine and run there (it ends inside 8 minutes; DIR receives one
#    record per step and summary.json / summary.md):
#
#        bash benchmarks/gpu.sh --wheels .gpu/whl --data-dir .gpu/data --out DIR
#
#    --wheels DIR installs DIR's wheels into /tmp/site without an index and puts them on PYTHONPATH; src/ goes there
#    too, so seqgraph needs no installing. Any other argument goes to gpu.py (--device cpu --quick: tiny, anywhere).
#
# 3. Commit DIR's files under benchmarks/results/gpu/.
#
# PYTHON names the interpreter (default python3, the one holding torch on the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ "${1:-}" = "--prepare" ]; then
    data="${SEQGRAPH_DATA:-$HOME/.cache/seqgraph}"
    install -D -m 644 "$data/books/book_EN_democracy_in_the_US.txt" .gpu/data/books/book_EN_democracy_in_the_US.txt
    for file in "$data"/planetoid/cora/ind.cora.*; do
        install -D -m 644 "$file" ".gpu/data/planetoid/cora/$(basename "$file")"
    done
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .gpu/whl \
        torch-geometric-temporal==0.56.2
    exclude="$(git rev-parse --git-path info/exclude)"
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/.gpu/" "$exclude" 2>/dev/null || echo "/.gpu/" >> "$exclude"
    echo "prepared .gpu/ ($(du -sh .gpu | cut -f1)); copy it to the GPU machine with the repository"
    exit 0
fi

if [ "${1:-}" = "--wheels" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$2"/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
    shift 2
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu.py "$@"
