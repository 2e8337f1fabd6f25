# Motionscript service image: `docker build -t motionscript .`
# The whole stack (API, Celery workers, PostgreSQL, Redis, Caddy for HTTPS): `make deploy`, compose.yaml, docs/deploy.md.
#   docker run -p 8000:8000 -v motionscript-data:/data motionscript
#   docker run --rm -v motionscript-data:/data motionscript keys create --clinic "My clinic"
FROM python:3.11-slim

# libGL/glib: OpenCV (pulled in by mediapipe) loads them at import time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

# Dependencies first, from the hashed lock only: this layer is rebuilt when the lock
# changes, not when the code does, and the image measures with exactly the versions
# the tests and the instrument fingerprint were made with.
COPY requirements/build.txt requirements/runtime.txt requirements/
RUN pip install --require-hashes -r requirements/build.txt \
 && pip install --require-hashes --no-deps -r requirements/runtime.txt

COPY pyproject.toml README.md LICENSE ./
COPY kinematics kinematics
COPY vision vision
COPY models models
COPY service service
COPY clients clients
RUN pip install --no-deps --no-build-isolation . && pip check

# matplotlib (imported by mediapipe) and onnxruntime write caches under $HOME.
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib XDG_CACHE_HOME=/tmp/cache \
    MOTIONSCRIPT_DATA_DIR=/data
RUN useradd --create-home --uid 10001 motionscript && mkdir -p /data && chown motionscript /data
USER motionscript
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
ENTRYPOINT ["motionscript"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
