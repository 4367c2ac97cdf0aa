# One static image with both hdscale binaries. The binaries are built outside
# Docker (`make build`: CGO_ENABLED=0 Go), so nothing has to be pulled: the
# image builds on air-gapped machines with no registry.
FROM scratch
COPY bin/webhook bin/extender /
USER 65532:65532
ENTRYPOINT ["/webhook"]
