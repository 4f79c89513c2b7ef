# sudo run through env inside a sh -c script, and installed quietly: both reported once.
FROM sealgate.azurecr.io/mirror/debian:12-slim@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804
RUN sh -c 'env LANG=C sudo mkdir -p /models' \
 && apt-get install -y --no-install-recommends sudo=1.9.13p3-1+deb12u1 > /dev/null
USER 10001
HEALTHCHECK CMD ["/app/health"]
