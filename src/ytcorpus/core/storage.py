"""fsspec URLs for the stage store and exports: s3://bucket/prefix, gs://..., az://...,
memory:// (tests). Local paths stay plain paths (file:// is local too).

Credentials and endpoints come only from each backend's standard environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL for MinIO/moto/R2,
GOOGLE_APPLICATION_CREDENTIALS, ...): a URL is shown with any user:password@ removed and
nothing about the store but its redacted URL reaches the database, logs or exports.
"""

from __future__ import annotations

import re

from .errors import ConfigError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str | object) -> bool:
    """An fsspec URL other than file:// (a local path)."""
    text = str(text)
    return bool(_SCHEME.match(text)) and not text.startswith("file://")


def redact_url(text: str | object) -> str:
    """The URL without user:password@ and without a query string (keys may hide there)."""
    text = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", str(text))
    return text.split("?", 1)[0]


def filesystem(url: str, what: str = "--stage"):
    """(fsspec filesystem, path without trailing slash) for a URL; a ConfigError naming
    what to install when its backend is missing."""
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{what} {redact_url(url)}: object storage needs fsspec "
                          "(pip install 'ytcorpus[cluster]')") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{what} {redact_url(url)}: {exc} (s3:// needs s3fs, gs:// gcsfs: "
                          "pip install 'ytcorpus[cluster]')") from None
    return fs, path.rstrip("/")


def protocol(fs) -> str:
    proto = fs.protocol
    return proto[0] if isinstance(proto, (tuple, list)) else str(proto)
