# The Zya allocator (catalogue replica): the shared runtime layer plus one binary.
# Configured by ZYA_* environment variables (`zya-allocator --help`).
ARG ZYA_TAG=latest
FROM zya/runtime:${ZYA_TAG}
COPY zya-allocator /usr/local/bin/zya-allocator
EXPOSE 7000
ENTRYPOINT ["/usr/local/bin/zya-allocator"]
