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
RUN useradd --system --home /cluster coco && mkdir -p /cluster && chown coco /cluster
USER coco
ENTRYPOINT ["coco"]
