ARG REGISTRY=sealgate.azurecr.io
ARG RUNTIME_TAG=1.4
FROM ${REGISTRY}/models/runtime:${RUNTIME_TAG}
COPY model.onnx /models/
USER root
HEALTHCHECK CMD ["/usr/local/bin/runtime", "--health"]
ENTRYPOINT ["/usr/local/bin/runtime", "--model", "/models/model.onnx"]
