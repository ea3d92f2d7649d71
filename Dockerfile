# syntax=docker/dockerfile:1
# Multi-stage: build a static binary, then run it as a non-root user in a
# minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/testerd ./cmd/testerd \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/testerd /usr/local/bin/testerd
COPY --from=build --chown=65532:65532 /out/data /data
# Docker (20.10 and later) lets non-root processes bind port 25 inside the
# container (net.ipv4.ip_unprivileged_port_start=0).
ENV TESTERD_DATA_DIR=/data \
    TESTERD_SMTP_ADDR=:25 \
    TESTERD_HTTP_ADDR=:8080
VOLUME /data
EXPOSE 25 8080
USER 65532:65532
# The image has no shell: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/testerd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/testerd"]
CMD ["serve"]
