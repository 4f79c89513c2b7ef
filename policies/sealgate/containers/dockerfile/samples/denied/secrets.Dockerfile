ARG HF_TOKEN
FROM mcr.microsoft.com/azurelinux/base/python:3.12@sha256:6e491c02882ac36e3bcaaac4d151d4b2793135d4482adf227b1b730cdd90b46d
ARG NPM_TOKEN=
ENV PIP_INDEX_URL=https://build:Zq8v2kLm4Rt7@pkgs.dev.azure.com/contoso/_packaging/models/pypi/simple/
ENV AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=models;EndpointSuffix=core.windows.net"
ENV dbPassword changeme
USER 10001
HEALTHCHECK CMD ["python3", "-m", "server.health"]
