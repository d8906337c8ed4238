# Inkwell: one static binary (pure Go, SQLite included) on a distroless base.
# The Go image is pinned to the exact version go.mod asks for (its
# GOTOOLCHAIN=local then builds with it, never fetching another). The
# distroless image publishes no version tags; pin it by digest where your
# registry lets you check one.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Which build this is, stamped into the binary (inkwell version, the
# inkwell_build_info metric): docker-compose.yml and a release build pass
# them (docs/production-stack.md). The build context has no .git (see
# .dockerignore), so the go command cannot tell; unset, they say "(devel)"
# and "unknown".
ARG VERSION=
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X main.stampedVersion=${VERSION} -X main.stampedRevision=${REVISION}" \
      -o /out/inkwell ./cmd/inkwell \
 && mkdir -p /out/data /out/secrets

FROM gcr.io/distroless/static-debian12:nonroot
# The same, as labels: docker inspect tells them without running the image.
ARG VERSION=
ARG REVISION=
LABEL org.opencontainers.image.version="$VERSION" org.opencontainers.image.revision="$REVISION"
COPY --from=build /out/inkwell /usr/local/bin/inkwell
COPY --from=build --chown=65532:65532 /out/data /data
# The master key's directory when it is a volume the instances share
# (docker-compose.yml): a new volume takes the owner of the image's.
COPY --from=build --chown=65532:65532 /out/secrets /secrets
ENV INKWELL_DATA_DIR=/data INKWELL_ADDR=:8000
VOLUME /data
EXPOSE 8000
USER 65532:65532
# The image has no shell or HTTP client: the binary probes itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/inkwell", "probe"]
ENTRYPOINT ["/usr/local/bin/inkwell"]
CMD ["serve"]
