# The gateway image for docker-compose.yml. SQLite and libpq are built from the crates' bundled
# sources, so the runtime image needs nothing but libc and CA certificates.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The dist profile (Cargo.toml): fat LTO, one codegen unit, the build the benchmarks measure.
RUN cargo build --profile dist --locked --bin gatehouse

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/dist/gatehouse /usr/local/bin/gatehouse
ENV GATEHOUSE__SERVER__BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
