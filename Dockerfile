# ragbot: one image for the CLI, the Discord bot and (in docker-compose.yml) the chroma server.
#
#   docker build -t ragbot .
#   docker build -t ragbot --build-context model=/path/to/all-MiniLM-L6-v2/onnx .   # a model folder you have
#
# The embedding model comes from the `model` stage below: by default fetched through chroma's public embedding
# function; a named build context `model` (a folder holding model.onnx and tokenizer.json) replaces that stage,
# so an offline build works too.

FROM python:3.11-slim AS deps
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Exact versions from the lock file (see README, "Deploying"): an image built next year has the same libraries.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --requirement /tmp/requirements.lock

FROM deps AS model-download
RUN python -c "from chromadb.utils.embedding_functions import DefaultEmbeddingFunction as F; F()(['fetch'])" \
    && mkdir /model && cp /root/.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/model.onnx \
    /root/.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/tokenizer.json /model/

FROM scratch AS model
COPY --from=model-download /model/ /

FROM deps
# /chroma: where docker-compose.yml's chroma server (this image too) keeps its data, owned by the same user.
RUN useradd --create-home --uid 10001 ragbot && mkdir /data /chroma && chown ragbot /data /chroma
WORKDIR /app
COPY --from=model model.onnx tokenizer.json /opt/ragbot/model/
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE ./
COPY rag ./rag
COPY bot ./bot
COPY curation ./curation
COPY ragbot ./ragbot
COPY corpus ./corpus
COPY eval ./eval
# --no-deps: every dependency is already installed, pinned, from the lock file.
RUN pip install --no-deps . && rm -rf build *.egg-info

USER ragbot
ENV RAGBOT_DATA_DIR=/data \
    RAGBOT_EMBEDDING__MODEL_DIR=/opt/ragbot/model \
    RAGBOT_EMBEDDING__DOWNLOAD=false
# The index of the shipped corpus, built now: a new volume mounted at /data starts with it, so the first
# question is answered at once. (Written before VOLUME: changes after it would be discarded.)
RUN ragbot ingest && ragbot doctor
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=30s --start-period=30s --retries=3 CMD ["ragbot", "doctor"]
CMD ["ragbot", "run"]
