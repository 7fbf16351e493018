# ringway in a container image (docs/container.md).
#
#   docker build -t ringway .
#   docker run --rm --network host --security-opt seccomp=ringway-seccomp.json ringway
#
# The build stage builds from source on Debian 12 as the README's set-up does (make deps, then
# make release through make deb) and makes the Debian package. The image is debian:12-slim
# with that package installed: apt brings exactly the libraries its Depends names (computed by
# dpkg-shlibdeps from the binary), and its postinst creates the user ringway, which runs it.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Every package the build and the tests use, as on a developer's machine (apt-get update first;
# tls/build-wolfssl.sh keeps its own deb-src list for wolfSSL's source package).
RUN make deps
# The Release build and the package: build/deb/ringway_<version>_<arch>.deb.
ARG SOURCE_DATE_EPOCH
RUN make deb

FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /src/build/deb/ringway_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates /tmp/ringway_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/ringway_*.deb \
 && ringway --version
USER ringway
# The admin API's changes go to /var/lib/ringway/state.json (global.state_file in the
# packaged configuration); mount a volume here to keep them.
WORKDIR /var/lib/ringway
# The example configuration's listener (127.0.0.1:8080) and the admin listener (127.0.0.1:9901).
EXPOSE 8080 9901
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/ringway"]
CMD ["--config", "/etc/ringway/ringway.yaml"]
