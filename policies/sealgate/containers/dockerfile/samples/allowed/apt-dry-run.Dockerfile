# Dry runs install nothing: they check that the pinned install below would resolve.
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804
RUN apt-get update \
 && apt-get install -s curl jq \
 && apt-get install --dry-run python3 \
 && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 jq=1.6-2.1
USER 10001
HEALTHCHECK CMD ["/app/health"]
