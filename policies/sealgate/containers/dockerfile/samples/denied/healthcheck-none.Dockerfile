FROM mcr.microsoft.com/azurelinux/base/core:3.0@sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23 AS build
HEALTHCHECK CMD ["/usr/bin/true"]
USER 10001

FROM build
HEALTHCHECK NONE
USER 0:0
ENTRYPOINT ["/usr/local/bin/server"]
