FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hookline ./hookline
COPY ingress ./ingress
COPY processors ./processors
COPY connectors ./connectors
COPY schemas ./schemas
COPY config ./config
RUN pip install --no-cache-dir .
USER nobody
CMD ["hookline", "--help"]
