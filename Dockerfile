# syntax=docker/dockerfile:1
#
# kneecave image.  CPU (default):  docker build -t kneecave .
#                  GPU (CUDA 13):  docker build --target gpu -t kneecave:gpu .
#
# Stages: build (venv with runtime deps + the package) → models (ONNX built from the pinned
# MediaPipe wheel, sha256-checked by models/build.py) → gpu | runtime (default, last).
# No test clips, no build tools and no ../shared content ever enter an image (.dockerignore).
# Dependencies come from the hashed locks in requirements/ (`make lock`), the versions CI tests:
# cpu.txt (onnxruntime) and gpu.txt (onnxruntime-gpu at the same version) never mix flavours.

# Pinned by tag only: no container registry is reachable from where this file was written,
# so the digests could not be read. Pin each as NAME:TAG@sha256:… once read with
# `docker buildx imagetools inspect NAME:TAG` (the multi-arch index digest).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The CUDA major version must match the onnxruntime-gpu wheel: PyPI's 1.31.1 (the version in
# requirements/gpu.txt) links libcudart.so.13 / libcublas.so.13 / libcudnn.so.9 (readelf).
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The locked dependencies first (kneecave[cpu,redis]: k8s runs on Redis), in a layer that code
# changes do not bust; then the package alone, resolving nothing.
COPY requirements/cpu.txt ./requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --require-hashes -r requirements/cpu.txt
COPY pyproject.toml README.md ./
COPY service ./service
RUN /opt/venv/bin/pip install --no-compile --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS models
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The converter's own deps (the [models] extra, locked) go in a throwaway venv: they never
# reach runtime.
COPY requirements/models.txt ./requirements/
RUN python -m venv /opt/modeltools \
    && /opt/modeltools/bin/pip install --require-hashes -r requirements/models.txt
COPY models/build.py models/manifest.json ./models/
# Downloads (never installs) the pinned mediapipe wheel from PyPI, checks its sha256, converts
# the two TFLite models and checks the ONNX sha256s against the manifest.
RUN /opt/modeltools/bin/python models/build.py \
    && rm -rf models/build

# ---------------------------------------------------------------------------------------------
# CUDA variant: onnxruntime-gpu on the NVIDIA runtime image (CUDA 13 + cuDNN 9 user-space libs;
# the driver comes from the node). Ubuntu 24.04's python3 is 3.12, which kneecave supports,
# so this stage builds its own venv instead of copying the 3.11 one from `build`.
FROM ${CUDA_IMAGE} AS gpu
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Distro python pinned by the base image tag; apt package versions are not pinned on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# kneecave[gpu,redis] from its lock: onnxruntime-gpu only (the flavours are extras, so the CPU
# build never comes in), every other version as in cpu.txt; the lock is universal, so
# Ubuntu's 3.12 gets the same pins.
COPY requirements/gpu.txt ./requirements/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --require-hashes -r requirements/gpu.txt
COPY pyproject.toml README.md ./
COPY service ./service
RUN /opt/venv/bin/pip install --no-compile --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip \
    && rm -rf /src
RUN groupadd --system --gid 10001 kneecave \
    && useradd --system --uid 10001 --gid kneecave --home-dir /app --shell /usr/sbin/nologin kneecave \
    && mkdir -p /app /data \
    && chown kneecave:kneecave /data
COPY --from=models /src/models/manifest.json /src/models/*.onnx /app/models/
COPY web /app/web
ENV PATH=/opt/venv/bin:$PATH \
    KNEECAVE_DATA_DIR=/data \
    KNEECAVE_MODELS_DIR=/app/models \
    KNEECAVE_WEB_DIR=/app/web \
    KNEECAVE_DEVICE=cuda
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KNEECAVE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["kneecave"]
CMD ["serve", "--host", "0.0.0.0"]

# ---------------------------------------------------------------------------------------------
# Default target (last stage): CPU runtime.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 kneecave \
    && useradd --system --uid 10001 --gid kneecave --home-dir /app --shell /usr/sbin/nologin kneecave \
    && mkdir -p /app /data \
    && chown kneecave:kneecave /data
# Same base image as `build`, so the venv's interpreter symlinks resolve unchanged.
COPY --from=build /opt/venv /opt/venv
COPY --from=models /src/models/manifest.json /src/models/*.onnx /app/models/
COPY web /app/web
# The package is installed into the venv (not run from a checkout), so the models dir is set
# explicitly rather than derived from the source tree.
ENV PATH=/opt/venv/bin:$PATH \
    KNEECAVE_DATA_DIR=/data \
    KNEECAVE_MODELS_DIR=/app/models \
    KNEECAVE_WEB_DIR=/app/web \
    KNEECAVE_DEVICE=cpu
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
# No curl in slim images: python's urllib raises (exit 1) on a non-2xx or a refused connection.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KNEECAVE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["kneecave"]
CMD ["serve", "--host", "0.0.0.0"]
