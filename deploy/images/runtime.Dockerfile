# The layer every Zya image shares, built FROM scratch (nothing is pulled):
# the shared libraries the binaries link (as `ldd` lists them, the dynamic
# loader included), the `zya` CLI for health checks and operations, a
# name-service config so peers are found by their compose host names, and
# /data owned by the unprivileged user the processes run as.
# deploy/build-images assembles the context; it is not meant to be built by hand.
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /data/
ENV PATH=/usr/local/bin
USER 10001:10001
WORKDIR /data
