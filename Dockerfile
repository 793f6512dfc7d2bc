# syntax=docker/dockerfile:1
# Plugin image for the Grafana init container (deploy/k8s/grafana.yaml).
#
# What it is: a tiny image holding /plugin/algotrading-pnl-datasource, i.e. the
# built dist/ folder (plugin.json, module.js, the backend binary, dashboards) made
# self-contained by deploy/k8s/plugin-image/bundle.sh (bundled glibc loader and
# shared libraries, because the C backend is linked against Debian 12 libraries and
# the Grafana image is Alpine). The init container copies that folder into the
# Grafana pod's plugins volume.
# What it is not: a Grafana image, or a build environment — run `make build` first
# so dist/ exists (the build stage only resolves the binary's shared libraries).
#
#   make build && docker build -t registry.example.com/algotrading-pnl-datasource-plugin:0.1.0 .
FROM debian:bookworm-slim AS bundle
# Runtime libraries of the backend; ldd in bundle.sh resolves the exact set.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc29 libprotobuf-c1 libjansson4 libpq5 \
 && rm -rf /var/lib/apt/lists/*
COPY dist/ /src/dist/
COPY deploy/k8s/plugin-image/bundle.sh /usr/local/bin/bundle.sh
RUN sh /usr/local/bin/bundle.sh /src/dist /plugin/algotrading-pnl-datasource

FROM busybox:1.36
COPY --from=bundle /plugin /plugin
# Default action of the init container; the Deployment passes the same command explicitly.
CMD ["sh", "-c", "rm -rf /var/lib/grafana/plugins/algotrading-pnl-datasource && cp -Rp /plugin/algotrading-pnl-datasource /var/lib/grafana/plugins/"]
