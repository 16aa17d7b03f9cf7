# A static goavail image (scratch, one binary, runs as nobody).
#   docker build -t goavail --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) .
# ICMP: the engine opens an unprivileged ping socket first, which needs no
# capability once the container's (namespaced) sysctl lets nobody's group
# use it; that is the way to run it:
#   docker run --cap-drop ALL --sysctl net.ipv4.ping_group_range="65534 65534" \
#     -v /etc/goavail:/etc/goavail:ro -v goavail-state:/var/lib/goavail \
#     -e CLOUDFLARE_API_TOKEN goavail --no-dry-run
# Without that sysctl it needs a raw socket, i.e. CAP_NET_RAW, which Docker
# grants only to root:  --user 0 --cap-drop ALL --cap-add NET_RAW.
# The config's http_listen must be 0.0.0.0:9800 for -p 9800:9800 to reach
# /metrics; members_port (7946, TCP and UDP) must be published for a cluster.
# This Dockerfile is not built by make test: the test machine has no
# container engine.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/goavail ./cmd/goavail \
 && mkdir -p /out/state && chown 65534:65534 /out/state

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/goavail /usr/bin/goavail
COPY --from=build --chown=65534:65534 /out/state /var/lib/goavail
COPY goavail.toml /etc/goavail/goavail.toml
USER 65534:65534
ENV STATE_DIRECTORY=/var/lib/goavail
EXPOSE 9800/tcp 7946/tcp 7946/udp
ENTRYPOINT ["/usr/bin/goavail", "monitor", "--config-file", "/etc/goavail/goavail.toml", "--log-format", "json"]
