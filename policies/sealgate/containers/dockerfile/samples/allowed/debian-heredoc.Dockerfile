# syntax=docker/dockerfile:1.7
# ONNX Runtime server on the platform's Debian mirror; the serving stage inherits the user and
# the health check of the base stage.
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804 AS base
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN <<EOF
set -eu
apt-get update
apt-get install -y --no-install-recommends \
    ca-certificates=20230311 \
    python3=3.11.2-1+b1 \
    python3-pip=23.0.1+dfsg-1 \
    tini=0.19.0-1
rm -rf /var/lib/apt/lists/*
useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin model
EOF
ADD --checksum=sha256:8273ef957736e504caa03e5ef80f29bb0e8c81916d935cf1c8aabcc408221650 \
    https://github.com/microsoft/onnxruntime/releases/download/v1.20.1/onnxruntime-linux-x64-1.20.1.tgz /tmp/ort.tgz
RUN tar -xzf /tmp/ort.tgz -C /opt && rm /tmp/ort.tgz
USER 10001
HEALTHCHECK --interval=30s --timeout=3s CMD ["python3", "/app/health.py"]

FROM base AS serve
COPY --chown=10001:10001 app/ /app/
# A public key fingerprint and a path to a key are not secrets.
ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D \
    RELEASE_PUBLIC_KEY_PATH=/etc/sealgate/release.pub \
    MAX_NEW_TOKENS=512
ENTRYPOINT ["/usr/bin/tini", "--", "python3", "/app/server.py"]
