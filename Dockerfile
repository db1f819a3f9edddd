FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY devtools ./devtools
COPY config ./config
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
USER nobody
CMD ["lederkontakt", "--help"]
