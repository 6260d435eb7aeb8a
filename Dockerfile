# ragbot: one image for the CLI and the Discord bot.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 ragbot && mkdir /data && chown ragbot /data
WORKDIR /app

# Dependency layer: rebuilt only when pyproject.toml changes, not on every code edit.
COPY pyproject.toml README.md ./
RUN mkdir rag bot && touch rag/__init__.py bot/__init__.py \
    && pip install . && pip uninstall --yes ragbot && rm -rf rag bot

COPY rag ./rag
COPY bot ./bot
COPY corpus ./corpus
RUN pip install --no-deps .

USER ragbot
# The embedding model, fetched at build time with chroma's own downloader into chroma's cache folder,
# where ragbot looks when RAGBOT_EMBEDDING__MODEL_DIR is unset: the container needs no network to embed.
RUN python -c "from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2 as M; M()._download_model_if_not_exists()"

ENV RAGBOT_DATA_DIR=/data RAGBOT_CORPUS_DIR=/app/corpus
VOLUME ["/data"]
CMD ["ragbot", "run"]
