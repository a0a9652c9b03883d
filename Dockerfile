# Multi-stage: build with the Rust toolchain, run on a minimal Debian with CA certificates
# as a non-root user. Build: docker build -t handbook-sync .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin handbook-sync

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home handbook-sync
COPY --from=build /src/target/release/handbook-sync /usr/local/bin/handbook-sync
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/handbook-sync"]
CMD ["run", "--config", "/etc/handbook-sync/config.toml", "--log-format", "json"]
