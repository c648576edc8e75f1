#!/usr/bin/env bash
# The accelerator rows of BENCHMARKS.md: the two training protocols' seconds per step on a GPU machine.
#
# The device image has JAX with CUDA but not NetKet and a few of its dependencies; their wheels (Python 3.12,
# manylinux x86-64, the versions this checkout pins) travel in .whl/ and install into /tmp/site. physlens
# itself runs from src/. Fetch the wheels here first (.whl/ is not committed):
#
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#         netket==3.23.0 plum-dispatch==2.10.1 beartype==0.23.1 igraph==1.0.0 texttable==1.7.2 sparse==0.19.3 \
#         orjson==3.13.0 tomli_w==1.2.0
#
# then, from the repository root on the accelerator machine:
#
#     bash bench/accelerator.sh
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
python3 -c "import jax, netket; print('jax', jax.__version__, 'netket', netket.__version__, jax.devices())" || exit 1
timeout 200 python3 bench/paper_protocol_step.py 12:2 16:5 20:5 --steps 30
timeout 300 python3 bench/lottery_barton.py barton-4x4-a8 barton-toric-a8 --steps 30
