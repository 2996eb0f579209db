# syntax=docker/dockerfile:1
# One image for every Estimator process; the command picks the service:
#   estimator serve gateway|chat|saves|simulator --host 0.0.0.0 --port 8000
#   estimator worker        estimator migrate        (later: estimator operator)
# Runs as the numeric non-root user 10001 on a read-only root filesystem: only /tmp needs to be writable
# (mount an emptyDir there). See docs/image.md.
#
# The base is pinned by tag. For reproducible builds also pin its digest, e.g.
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>
# (`docker buildx imagetools inspect python:3.11-slim-bookworm` prints it) and let a bot such as Renovate bump it.
# Builder and runtime must use the same base: the venv's interpreter is a symlink to its /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (their own layer, rebuilt only when the lock changes), every file checked by its hash.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
# The project itself as a built wheel (not editable): nothing of /src is needed at run time.
COPY pyproject.toml README.md ./
COPY services ./services
# Bytecode is compiled here, checked by hash rather than mtime, so the read-only venv is never written to.
RUN pip install --no-cache-dir --no-deps . \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv \
    && pip check

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="estimator" \
      org.opencontainers.image.description="Kubernetes-native software estimation: Claude judges, code calculates." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# The standard library's bytecode too (the base image ships without it), so no process wants to write it.
RUN python -m compileall -q -j 0 /usr/local/lib/python3.11 \
    && groupadd --system --gid 10001 estimator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin estimator
COPY --from=builder /opt/venv /opt/venv
# HOME and the laptop state dir point at /tmp, the one writable place; the root filesystem stays read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ESTIMATOR_ENV=production \
    HOME=/tmp \
    ESTIMATOR_STATE_DIR=/tmp/estimator
WORKDIR /app
USER 10001:10001
# 8000: a service's API (choose with --port); 9464: its /metrics (METRICS_PORT, WORKER_METRICS_PORT).
EXPOSE 8000 9464
ENTRYPOINT ["estimator"]
CMD ["--help"]
