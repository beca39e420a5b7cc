# vidserve on NVIDIA GPUs. Build: docker build -t vidserve .
# Run:   docker run --gpus all -p 8000:8000 -v $PWD/weights:/app/weights -v vidserve-data:/app/data vidserve
# Weights are mounted, never baked in or downloaded at serve time.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 VIDSERVE_HOST=0.0.0.0 VIDSERVE_WEIGHTS_DIR=/app/weights VIDSERVE_DATA_DIR=/app/data
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first (CUDA build from PyPI), so the project's range installs nothing more.
RUN pip install "torch>=2.5"
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY server ./server
COPY benchmarks ./benchmarks
RUN pip install ".[cuda]"
RUN useradd --create-home vidserve && mkdir -p /app/weights /app/data && chown -R vidserve /app
USER vidserve
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
ENTRYPOINT ["vidserve"]
CMD ["serve"]
