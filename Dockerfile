# Parley's production image: daphne serving config.asgi as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PARLEY_ENV=production \
    PARLEY_VAR_DIR=/var/lib/parley

RUN groupadd --system parley && useradd --system --gid parley --home-dir /app parley

WORKDIR /app
COPY requirements.txt requirements-ldap.txt ./
# LDAP / Active Directory (docs/directory.md) is in the image, off until PARLEY_LDAP_SERVER_URI is set. python-ldap
# builds against OpenLDAP's client library: the compiler and headers come and go in this one layer, the shared
# libraries it links (libldap, libsasl2) are kept.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libldap-dev libsasl2-dev \
    && pip install -r requirements.txt -r requirements-ldap.txt \
    && apt-mark manual $(dpkg-query -W -f '${db:Status-Abbrev}${Package}\n' 'libldap-2*' 'libsasl2-2' | sed -n 's/^ii *//p') \
    && apt-get purge -y --auto-remove gcc libc6-dev libldap-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*

COPY . .
# collectstatic needs settings, not secrets: a throwaway key and host are enough to build the manifest.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && mkdir -p /var/lib/parley/media /var/lib/parley-checkpoints \
    && chown -R parley:parley /var/lib/parley /var/lib/parley-checkpoints

USER parley
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python -c "import os, urllib.request as r; host = os.environ['ALLOWED_HOSTS'].split(',')[0]; \
r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4)"
# No --proxy-headers: the client address comes from PARLEY_TRUSTED_PROXY_HEADER (core/net.py), one rule for all.
# The options are config/server.py's (a storm queues rather than being reset), the same wherever daphne starts.
CMD ["daphne", "--websocket_connect_timeout", "60", "--bind", "0.0.0.0", "--port", "8000", "config.asgi:application"]
