# Output redirected to /dev/null: the redirection target is not a package.
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804
RUN apt-get update > /dev/null \
 && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 > /dev/null 2>&1 \
 && rm -rf /var/lib/apt/lists/*
USER 10001
HEALTHCHECK CMD ["/app/health"]
