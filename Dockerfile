FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    COINPILOT_VAR_DIR=/var/lib/coinpilot PROMETHEUS_MULTIPROC_DIR=/run/coinpilot-metrics
WORKDIR /app

# gettext's msgfmt compiles the Korean catalog (locale/) at build time.
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY . .
# Static files are collected at build time; the build needs a throwaway key, never the real one.
RUN SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --no-input \
    && SECRET_KEY=build-only DEBUG=0 python manage.py compilemessages --ignore=staticfiles -v 0 \
    && useradd --system --uid 10001 coinpilot \
    && mkdir -p /var/lib/coinpilot /run/coinpilot-metrics \
    && chown coinpilot /var/lib/coinpilot /run/coinpilot-metrics
USER coinpilot
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "coinpilot_site.wsgi:application"]
