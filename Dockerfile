# Multi-stage: build with the Rust toolchain, run on a minimal Debian with CA certificates
# as a non-root user. For users with a registry to pull from; without one, build the
# image from a binary with deploy/image/build (Containerfile). Build:
#   docker build --build-arg HANDBOOK_SYNC_COMMIT="$(git rev-parse HEAD)" -t handbook-sync .
FROM rust:1.95-slim-bookworm AS build
# The commit --version names (.dockerignore leaves .git out of the context).
ARG HANDBOOK_SYNC_COMMIT=""
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin handbook-sync

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="handbook-sync" \
      org.opencontainers.image.description="Keeps GitLab issues equal to a Markdown handbook" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home handbook-sync
COPY --from=build /src/target/release/handbook-sync /usr/local/bin/handbook-sync
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/handbook-sync"]
CMD ["run", "--config", "/etc/handbook-sync/config.toml", "--log-format", "json"]
