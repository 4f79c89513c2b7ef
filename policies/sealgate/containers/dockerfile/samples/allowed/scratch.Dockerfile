# A static model-proxy binary on an empty image.
FROM sealgate.azurecr.io/build/golang:1.23-alpine@sha256:54c5b3dd459d5ef778bb2fa1e23a5fb0e1b62ae66970bcb436e8f81a1a1a8e41 AS build
RUN apk add --no-cache git=2.47.2-r0 ca-certificates=20241121-r1
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/proxy ./cmd/proxy

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/proxy /proxy
USER 65532:65532
HEALTHCHECK CMD ["/proxy", "healthcheck"]
ENTRYPOINT ["/proxy"]
