# A user in the sudo group, on an image without sudo: the group grants nothing.
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804
RUN useradd --uid 10001 --groups sudo --no-create-home app
USER 10001
HEALTHCHECK CMD ["/app/health"]
