FROM mcr.microsoft.com/azurelinux/base/python:3.12@sha256:6e491c02882ac36e3bcaaac4d151d4b2793135d4482adf227b1b730cdd90b46d
RUN tdnf install -y sudo-1.9.15p5-3.azl3 && tdnf clean all
USER 10001
RUN sudo mkdir -p /models
HEALTHCHECK CMD ["python3", "-m", "server.health"]
