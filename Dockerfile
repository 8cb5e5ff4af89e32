# coco's image: the release binary and the example consortium genesis.
#   docker build -t coco .
#   docker compose up          (three validators, see docker-compose.yml)
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin coco

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/coco /usr/local/bin/coco
COPY genesis/consortium.json /usr/share/coco/consortium.json
# The compose file's volumes mount here: Docker gives a new named volume the owner of
# the directory it mounts over, so these must exist, owned by coco (else `setup` cannot
# write the genesis: "Permission denied").
RUN useradd --system --home /cluster coco \
    && mkdir -p /cluster/genesis /cluster/v1 /cluster/v2 /cluster/v3 && chown -R coco /cluster
USER coco
ENTRYPOINT ["coco"]
