# syntax=docker/dockerfile:1
# hanyi serve in a container: CPU PyTorch pinned, the shipped model inside (it carries its own
# CTranslate2 int8 export, which `--engine auto` serves on a CPU), a non-root user, a health
# check.
#
#   docker build -t hanyi:0.2.0 .
#   docker run -p 8000:8000 hanyi:0.2.0 --rate-limit 60/min        # flags of `hanyi serve`
#   docker compose up                                              # compose.yaml: keys too
#
# tests/serve/test_container.py runs this file's ENTRYPOINT, CMD, ENV, USER and HEALTHCHECK
# outside Docker (the machines CI runs on have no Docker daemon); see docs/serve.md.
ARG PYTHON=3.11-slim-bookworm

# ---- build: a virtual environment with hanyi (the export extra brings CTranslate2)
FROM python:${PYTHON} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# the CPU wheel, pinned: an unpinned torch would pull the multi-GB CUDA build
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install ".[serve,export]"
COPY models/hanyi-en-zh /opt/hanyi/models/hanyi-en-zh

# ---- runtime: only the environment and the models, run by an unprivileged user
FROM python:${PYTHON}
RUN useradd --system --uid 10001 --home-dir /opt/hanyi --shell /usr/sbin/nologin hanyi
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/hanyi/models /opt/hanyi/models
ENV PATH=/opt/venv/bin:$PATH \
    HANYI_MODEL=/opt/hanyi/models/hanyi-en-zh \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=2
USER hanyi
WORKDIR /opt/hanyi
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]
ENTRYPOINT ["hanyi", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD []
