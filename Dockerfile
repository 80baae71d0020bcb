# Hookline's image: the wheel built from this tree, installed into a slim Python, run by an
# unprivileged user. docker-compose.yml runs every service (and the demo) from it.

# Stage 1: build the wheel from the packages (the same wheel `pip wheel .` builds).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hookline ./hookline
COPY ingress ./ingress
COPY processors ./processors
COPY connectors ./connectors
COPY schemas ./schemas
COPY sandbox ./sandbox
COPY launcher ./launcher
COPY pollers ./pollers
COPY admin ./admin
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the runtime holds the installed wheel, not the source tree.
FROM python:3.11-slim
# A fixed uid/gid, so the ownership of the data volume is the same on every host; the
# data directory is created here, owned by that user, so a fresh named volume mounted on
# it inherits the ownership and the processors can write their state.
RUN groupadd --system --gid 10001 hookline \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/hookline \
        --shell /usr/sbin/nologin hookline \
    && mkdir -p /var/lib/hookline/processors \
    && chown -R 10001:10001 /var/lib/hookline
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/hookline
CMD ["hookline", "--help"]
