# Inkwell: one static binary (pure Go, SQLite included) on a distroless base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/inkwell ./cmd/inkwell \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/inkwell /usr/local/bin/inkwell
COPY --from=build --chown=65532:65532 /out/data /data
ENV INKWELL_DATA_DIR=/data INKWELL_ADDR=:8000
VOLUME /data
EXPOSE 8000
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/inkwell"]
CMD ["serve"]
