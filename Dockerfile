# twamp-client image: the probe daemon on a /config volume, as the original
# client's container, without cron and shell scripts.
#
#   docker compose build                      (or: docker build -t twamp-client .)
#   PROBE_PREFIX=<prefix> docker compose up -d
#
# Two stages on debian:bookworm-slim.  "build" installs the build
# dependencies (scripts/install-deps.sh: no test tool), builds with the
# project's Makefile, runs the unit tests (Criterion, installed for them with
# scripts/install-deps.sh --unit) and installs into /out; the runtime stage has
# only the binary, its shared libraries, CA certificates, the examples and an
# unprivileged user.  Nothing here depends on the architecture: it builds
# natively on amd64, arm64 and armv7 (a Raspberry Pi builds it itself).
#
# Build arguments:
#   RUN_TESTS=auto (default)  run the unit tests where Debian packages
#                  Criterion (amd64, arm64...); on armv7 (armhf: Debian 12 has
#                  no libcriterion-dev) the build says loudly that they did
#                  not run, and why, and goes on: run make check on amd64/arm64
#   RUN_TESTS=yes  the unit tests must run: fails on armhf
#   RUN_TESTS=no   skip the unit tests (they need the loopback addresses
#                  127.0.0.1 and ::1 inside the build; a builder whose
#                  network has IPv6 disabled fails the ::1 tests)
#   TWAMP_UID=10001, TWAMP_GID=10001   the ids of the user twamp

FROM debian:bookworm-slim AS build
ARG RUN_TESTS=auto
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The dependency layers change only with the script's package list.  The
# build's packages first (never Criterion), then the unit tests' where wanted:
# /tmp/no-unit-tests keeps the reason when Criterion cannot be installed.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
RUN if [ "$RUN_TESTS" != no ]; then \
        scripts/install-deps.sh --unit 2>/tmp/no-unit-tests || { cat /tmp/no-unit-tests >&2; [ "$RUN_TESTS" = auto ]; }; \
    fi && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make -j"$(nproc)" \
 && if [ "$RUN_TESTS" = no ]; then echo "unit tests skipped (RUN_TESTS=no)"; \
    elif [ -s /tmp/no-unit-tests ]; then echo "WARNING: unit tests NOT run:" >&2; cat /tmp/no-unit-tests >&2; \
    else make unit-test; fi \
 && make install DESTDIR=/out PREFIX=/usr \
 && strip --strip-unneeded /out/usr/bin/twamp-client \
 && /out/usr/bin/twamp-client --help >/dev/null

FROM debian:bookworm-slim
ARG TWAMP_UID=10001
ARG TWAMP_GID=10001
ENV DEBIAN_FRONTEND=noninteractive
# libcurl4 and libgit2-1.5 are runtime dependencies although the binary has no
# ELF NEEDED entry for them: the daemon dlopen()s them (src/io/dynlib.c) for its
# configuration download and delivery, so `ping` and `responder` start without them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libcurl4 libjson-c5 libgit2-1.5 liburcu8 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "$TWAMP_GID" twamp \
 && useradd --system --uid "$TWAMP_UID" --gid twamp --home-dir /config --no-create-home \
        --shell /usr/sbin/nologin --comment "twamp-client probe" twamp \
 && mkdir -p /config/data \
 && chown -R twamp:twamp /config
COPY --from=build /out/usr/bin/twamp-client /usr/bin/twamp-client
COPY --from=build /out/usr/share/twamp-client/ /usr/share/twamp-client/
COPY --from=build /out/usr/share/doc/twamp-client/ /usr/share/doc/twamp-client/
COPY --from=build /out/usr/share/man/man1/twamp-client.1 /usr/share/man/man1/twamp-client.1
COPY docker/entrypoint.sh /usr/local/bin/twamp-client-entrypoint
COPY docker/demo-data/ /usr/share/twamp-client/demo-data/
# Every shared library the binary needs is here (fails the build otherwise).
RUN chmod 0755 /usr/local/bin/twamp-client-entrypoint \
 && ! ldd /usr/bin/twamp-client | grep "not found" \
 && twamp-client check-config /usr/share/twamp-client/default-data \
 && twamp-client check-config /usr/share/twamp-client/demo-data

# A new named volume starts as a copy of /config, owned by twamp.
VOLUME /config
WORKDIR /config
USER twamp
# No port is exposed: the probe only connects out (TWAMP-Control over TCP,
# test packets over UDP, HTTP(S) for configuration and delivery).  Ordinary
# sockets, kernel software timestamps: no capability is needed.
STOPSIGNAL SIGTERM
# Unhealthy when no cycle ended within twice the schedule period (at least
# 10 min).  Cycles spread their targets over the period, so with the default
# schedule (every 5 min) the first one ends up to ~10 min after the start:
# the start period covers it.  With a longer Probe.Schedule, raise
# start_period (healthcheck: in docker-compose.override.yml) to 2 periods.
HEALTHCHECK --interval=1m --timeout=10s --start-period=11m --retries=3 \
    CMD ["twamp-client", "health", "--data-dir", "/config/data"]
ENTRYPOINT ["/usr/local/bin/twamp-client-entrypoint"]
CMD ["run"]
