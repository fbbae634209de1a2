# The Zya WebSocket gateway (/v1/ws): the shared runtime layer plus one binary.
# Configured by ZYA_* environment variables (`zya-gateway --help`).
ARG ZYA_TAG=latest
FROM zya/runtime:${ZYA_TAG}
COPY zya-gateway /usr/local/bin/zya-gateway
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/zya-gateway"]
