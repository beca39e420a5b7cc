# vidserve on NVIDIA GPUs. Build, run and check: docs/operations.md ("Docker").
#   docker build -t vidserve:0.1.0 .
#   docker run --gpus all -p 8000:8000 -e VIDSERVE_API_KEYS='["change-me"]' \
#     -v "$PWD/weights:/weights:ro" -v vidserve-data:/data vidserve:0.1.0
# Weights are mounted, never baked in or downloaded at serve time.
#
# A PyTorch CUDA base: torch, CUDA and cuDNN come matched, so pyproject's torch range installs
# nothing more. Keep its torch within pyproject's range (torch>=2.5) and its CUDA within the driver's.
FROM pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    VIDSERVE_HOST=0.0.0.0 VIDSERVE_PORT=8000 VIDSERVE_WEIGHTS_DIR=/weights VIDSERVE_DATA_DIR=/data \
    VIDSERVE_DEMO_MODELS=false VIDSERVE_LOG_FORMAT=json

WORKDIR /app
# Dependencies first (cached while only the code changes): the project's own metadata pins them.
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY server ./server
COPY benchmarks ./benchmarks
# [cuda]: xformers and nvidia-ml-py (GPU utilization per worker in /metrics). Versions come from
# pyproject's ranges (a local path cannot be "pinned" the way DL3013 asks).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[cuda]"

# Non-root, numeric uid so volume ownership is predictable on the host (chown 10001 the data dir).
RUN groupadd --gid 10001 vidserve && useradd --uid 10001 --gid 10001 --no-create-home vidserve \
    && mkdir -p /weights /data && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
# Ready = a worker is up (models load on first use); the start period covers worker start-up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('VIDSERVE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["vidserve"]
CMD ["serve"]
