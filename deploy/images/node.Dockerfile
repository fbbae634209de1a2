# The Zya storage node: the shared runtime layer plus one binary.
# Configured by ZYA_* environment variables (`zya-node --help`).
ARG ZYA_TAG=latest
FROM zya/runtime:${ZYA_TAG}
COPY zya-node /usr/local/bin/zya-node
EXPOSE 7100
ENTRYPOINT ["/usr/local/bin/zya-node"]
