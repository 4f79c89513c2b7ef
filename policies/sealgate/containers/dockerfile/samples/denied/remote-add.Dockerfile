FROM mcr.microsoft.com/azurelinux/base/core:3.0@sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23
ADD https://huggingface.co/microsoft/phi-2/resolve/main/tokenizer.json /models/tokenizer.json
ADD https://github.com/microsoft/onnxruntime.git#v1.20.1 /src/onnxruntime
USER 10001
HEALTHCHECK CMD ["/usr/bin/true"]
