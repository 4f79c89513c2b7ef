# syntax=docker/dockerfile:1.7
# Model server: dependencies built on Azure Linux, shipped on distroless, runs unprivileged.
ARG BUILD_IMAGE=mcr.microsoft.com/azurelinux/base/python:3.12@sha256:6e491c02882ac36e3bcaaac4d151d4b2793135d4482adf227b1b730cdd90b46d
ARG RUNTIME_IMAGE=mcr.microsoft.com/azurelinux/distroless/python:3.12-nonroot@sha256:ea3e6869841f102bdb95fc7358ad94097770136193d88ac06a56a1c5a318d613

FROM ${BUILD_IMAGE} AS build
# The build stage runs as root: only the final stage ships.
RUN tdnf install -y gcc-13.2.0-7.azl3 python3-devel-3.12.9-1.azl3 \
 && tdnf clean all
WORKDIR /src
COPY requirements.txt .
RUN python3 -m pip install --no-cache-dir --require-hashes -r requirements.txt \
        --target /opt/app/site-packages
COPY server/ /opt/app/server/

FROM ${RUNTIME_IMAGE}
COPY --from=build /opt/app /opt/app
ENV PYTHONPATH=/opt/app/site-packages:/opt/app \
    MODEL_DIR=/models \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    HF_TOKEN_FILE=/run/secrets/hf-token
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["python3", "-m", "server.health"]
ENTRYPOINT ["python3", "-m", "server", "--model-dir", "/models"]
