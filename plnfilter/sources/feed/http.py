"""One conditional GET of a feed: timeouts (per read, and DOWNLOAD_TIMEOUTS of them for the whole
body), at most MAX_REDIRECTS redirects, a size cap, ETag and Last-Modified sent back so an
unchanged feed costs one 304. Retries follow the shared policy of
plnfilter/sources/transport.py (502/503/504, a reset or a read timeout are tried again)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from plnfilter.errors import SourceError
from plnfilter.sources import FetchContext
from plnfilter.sources.transport import RETRIED_STATUS, Transient, with_retries

USER_AGENT = "plnfilter (+https://github.com/plnfilter/plnfilter) feed reader"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)
MAX_REDIRECTS = 5
DOWNLOAD_TIMEOUTS = 6  # a whole feed must arrive within this many --timeout's
CHUNK = 64 * 1024
_BROKEN_CONNECTION = ("Connection aborted", "Connection broken", "reset by peer", "IncompleteRead")


@dataclass
class Fetched:
    """A feed as served: `status` 200 (with `body`) or 304 (unchanged since the validators sent)."""

    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    modified: str = ""
    url: str = ""  # where it was found after redirects


def megabytes(size: int) -> str:
    return f"{size / 1000**2:g} MB"


def get_feed(url: str, validators: dict, ctx: FetchContext, source: str, max_bytes: int) -> Fetched:
    """The feed at `url`, or status 304 when the server says it has not changed; SourceError with a
    next step for anything that is not a feed's answer."""
    import requests

    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = ACCEPT
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("modified"):
        headers["If-Modified-Since"] = validators["modified"]
    try:
        return with_retries(lambda: _request(session, url, headers, ctx, source, max_bytes), ctx, source)
    finally:
        session.close()


def _request(session, url: str, headers: dict, ctx: FetchContext, source: str, max_bytes: int) -> Fetched:
    import requests

    host = urlsplit(url).netloc
    slow = SourceError(
        source,
        f"no answer from {host} within {ctx.timeout:g}s",
        "the next run tries again; raise --timeout if the site is slow",
    )
    try:
        response = session.get(url, headers=headers, timeout=ctx.timeout, stream=True, auth=lambda r: r)
    except requests.exceptions.TooManyRedirects:
        raise SourceError(
            source,
            f"{url} redirects more than {MAX_REDIRECTS} times (a redirect loop?)",
            "open the address in a browser and write the one it ends at",
        ) from None
    except requests.exceptions.ReadTimeout:
        raise Transient(slow, f"no answer within {ctx.timeout:g}s") from None
    except requests.exceptions.Timeout:
        raise slow from None
    except requests.exceptions.RequestException as exc:
        raise _connection_error(exc, source, host, slow) from None
    with response:
        code = response.status_code
        if code == 304:
            return Fetched(304, url=response.url)
        if code >= 400:
            raise _status_error(response, source, url)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_big(source, url, max_bytes)
        body = _read_body(response, ctx, source, url, max_bytes, slow)
        return Fetched(
            200,
            bytes(body),
            response.headers.get("Content-Type", ""),
            response.headers.get("ETag", ""),
            response.headers.get("Last-Modified", ""),
            response.url,
        )


def _read_body(
    response, ctx: FetchContext, source: str, url: str, max_bytes: int, slow: SourceError
) -> bytearray:
    """The body, decompressed, stopped at `max_bytes` (a gzip bomb too) and at DOWNLOAD_TIMEOUTS
    timeouts in all: `read1` returns what has arrived, so a server trickling bytes (which never trips
    the per-read timeout) is noticed too."""
    import requests
    import urllib3

    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # urllib3 < 2.1 has no read1
    limit = DOWNLOAD_TIMEOUTS * ctx.timeout
    started = time.monotonic()
    body = bytearray()
    try:
        while chunk := read(CHUNK, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise _too_big(source, url, max_bytes)
            if ctx.past_deadline():
                raise SourceError(
                    source, f"{url} was still arriving when --max-time ran out", "raise --max-time"
                )
            if time.monotonic() - started > limit:
                raise SourceError(
                    source,
                    f"{url} took more than {limit:g}s to arrive",
                    "the next run tries again; raise --timeout if the site is that slow",
                )
    except urllib3.exceptions.ReadTimeoutError:
        raise Transient(slow, "no answer in time") from None
    except urllib3.exceptions.DecodeError:
        raise SourceError(
            source, f"{url} sent a compressed feed that does not decompress", "tell the site's owner"
        ) from None
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as exc:
        raise _connection_error(exc, source, urlsplit(url).netloc, slow) from None
    return body


def _connection_error(exc: Exception, source: str, host: str, slow: SourceError) -> Exception:
    text = str(exc)
    if "timed out" in text.lower():
        return Transient(slow, "no answer in time")
    if any(sign in text for sign in _BROKEN_CONNECTION):
        return Transient(
            SourceError(
                source,
                f"the connection to {host} broke before the feed was complete",
                "the next run tries again",
            ),
            "the connection broke",
        )
    return SourceError(
        source, f"could not connect to {host}", "check the feed's address and the network connection"
    )


def _too_big(source: str, url: str, max_bytes: int) -> SourceError:
    return SourceError(
        source,
        f"{url} is larger than {megabytes(max_bytes)}, the most a feed may be",
        "raise `max_size:` on this source if the feed really is that big",
    )


def _status_error(response, source: str, url: str) -> Exception:
    code = response.status_code
    reason = "".join(char for char in str(response.reason or "") if char.isprintable())[:80]
    status = f"{code} {reason}".strip()  # the server's words: printable only, so no terminal escapes
    if code in (404, 410):
        return SourceError(
            source, f"{url} answered {status}", "the feed has moved or gone: check its address on the site"
        )
    if code in (401, 403):
        return SourceError(
            source,
            f"{url} answered {status}",
            "the feed is private or blocks readers; plnfilter reads only public feeds",
        )
    if code == 429:
        return SourceError(
            source,
            f"{url} answered {status}",
            "the site asks to be read less often; the next run tries again",
        )
    error = SourceError(
        source, f"{url} answered {status}", "the site is having trouble; the next run tries again"
    )
    if code in RETRIED_STATUS:
        return Transient(error, f"{urlsplit(url).netloc} answered {status}")
    return error
