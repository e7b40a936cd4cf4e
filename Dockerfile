# Production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
RUN useradd --create-home --uid 1000 app
COPY pyproject.toml ./
COPY config ./config
COPY accounts ./accounts
COPY lists ./lists
COPY campaigns ./campaigns
COPY moderation ./moderation
COPY complaints ./complaints
COPY outbox ./outbox
COPY templates ./templates
COPY static ./static
COPY locale/parts ./locale/parts
COPY bin/translations ./bin/translations
COPY manage.py ./
RUN pip install . && python bin/translations build && mkdir -p /app/var /app/staticfiles && chown -R app /app/var /app/staticfiles
USER app
EXPOSE 8000
# As docker-compose.yml's web: gthread 2 x 8 per 2 cores (README, "Load": one-click unsubscribes
# of concurrent requests share a commit only with threads).
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", \
     "--worker-class", "gthread", "--workers", "2", "--threads", "8", \
     "--timeout", "60", "--access-logfile", "-"]
