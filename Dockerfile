# lth-tf on CPU, with full Fashion-MNIST from Debian for offline experiments.
#   docker build -t lth-tf .
#   docker run --rm -v "$PWD/mlruns:/work/mlruns" lth-tf run
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY lth_tf ./lth_tf
COPY pipelines ./pipelines
RUN pip install --no-cache-dir .
WORKDIR /work
ENTRYPOINT ["lth-tf"]
CMD ["run"]
