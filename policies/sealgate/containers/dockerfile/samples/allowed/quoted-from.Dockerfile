# A quoted image reference is read as Docker reads it: the quotes are removed, so this is a
# digest-pinned image from mcr.microsoft.com.
FROM "mcr.microsoft.com/azurelinux/base/core:3.0@sha256:81d93757457f988523814ae0009837ae893f38d3fe123f2c37896f118b4c7804"
USER 10001
HEALTHCHECK CMD ["/app/health"]
