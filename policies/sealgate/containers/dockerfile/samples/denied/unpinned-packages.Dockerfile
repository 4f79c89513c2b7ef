# syntax=docker/dockerfile:1.7
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804
RUN <<EOF
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y \
    curl python3-pip
rm -rf /var/lib/apt/lists/*
EOF
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir "torch>=2.3" onnxruntime==1.20.1
USER 10001
HEALTHCHECK CMD ["python3", "-m", "server.health"]
