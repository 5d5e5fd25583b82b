"""Write accounts, posts, likes, reposts, follows and lists into the reference network.

Records go through the atproto Python SDK's `com.atproto.repo.createRecord` as plain dicts,
so the tests control every byte (facet tags in mixed case, record-only `tags`, self-labels).
Handles end in `.test`: dev-env resolves nothing else without DNS.

Counts: the AppView recounts a post's likes, reposts, replies and quotes in the transaction that
indexes each one, and indexes different authors' repos concurrently, so two likes of one post
indexed at once can both count 1 and the stored count stays 1 for good (a race in the server,
not a delay). With `network` set, every write that changes a post's counts waits until the
AppView has indexed it before the next one; `settle()` then polls the AppView until it reports
the counts written here, and the profile self-labels (`set_profile_labels`) on every post view of
their authors.
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PASSWORD = "pln-test-password"

_TAG = re.compile(r"(?<![\w&])#([^\s#.,!?:;()]+)")
_LINK = re.compile(r"https?://[^\s)]+")
_MENTION = re.compile(r"(?<!\w)@([a-z0-9.-]+\.test)")


def tiny_png(rgb: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A valid 2x2 PNG, built here so the tests need no image files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * 2
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * 2))
        + chunk(b"IEND", b"")
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Ref:
    """A written record: what the tests need to find it again."""

    uri: str
    cid: str
    author: str = ""
    text: str = ""
    facet_tags: tuple[str, ...] = ()
    record_tags: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()

    @property
    def tags(self) -> set[str]:
        """What plnfilter should derive: facet tags plus record tags, lower-cased."""
        return {t.lower() for t in self.facet_tags + self.record_tags}

    def strong(self) -> dict:
        return {"uri": self.uri, "cid": self.cid}


@dataclass
class Account:
    handle: str
    did: str
    client: Any


@dataclass
class Counts:
    """What the seeder wrote about one post, to compare with what the AppView reports."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass
class Seeder:
    """Writes into one network; remembers accounts by handle and the counts it gave each post."""

    pds: str
    network: Any = None  # the running Network: count-changing writes are indexed one at a time
    accounts: dict[str, Account] = field(default_factory=dict)
    counts: dict[str, Counts] = field(default_factory=dict)
    profile_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # handle -> self-labels
    posts_by: dict[str, list[str]] = field(default_factory=dict)  # handle -> uris of its posts

    def _counted(self, subject: Ref, kind: str) -> None:
        """Record one more like/repost/reply/quote of `subject`; let the AppView index it alone."""
        counts = self.counts.setdefault(subject.uri, Counts())
        setattr(counts, kind, getattr(counts, kind) + 1)
        if self.network is not None:
            self.network.process_all()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the AppView has indexed every write, reports every count written here and shows
        each author's profile self-labels on every post view of theirs.

        Raises AssertionError naming the posts whose counts or labels never arrived, so a test never
        reads a half-indexed network.
        """
        if self.network is not None:
            self.network.process_all()
        if not self.accounts:
            return
        self._settle_labels(timeout)
        if not self.counts:
            return
        reader = next(iter(self.accounts.values())).client
        uris = list(self.counts)

        def mismatches() -> dict[str, tuple[Counts, Counts]]:
            seen: dict[str, Counts] = {}
            for start in range(0, len(uris), 25):
                views = reader.app.bsky.feed.get_posts({"uris": uris[start : start + 25]}).posts
                for view in views:
                    seen[view.uri] = Counts(
                        view.like_count or 0,
                        view.repost_count or 0,
                        view.reply_count or 0,
                        view.quote_count or 0,
                    )
            return {uri: (want, seen.get(uri)) for uri, want in self.counts.items() if seen.get(uri) != want}

        if not wait_until(lambda: not mismatches(), timeout=timeout):
            detail = "; ".join(f"{uri}: wrote {w}, AppView says {s}" for uri, (w, s) in mismatches().items())
            raise AssertionError(f"the AppView never reported the seeded counts: {detail}")

    def _settle_labels(self, timeout: float) -> None:
        """Poll the AppView (as a logged-in reader) until the post views of every author given profile
        self-labels carry them in `author.labels`."""
        reader = next(iter(self.accounts.values())).client
        wanted = {
            uri: set(labels)
            for handle, labels in self.profile_labels.items()
            for uri in self.posts_by.get(handle, ())
        }

        def missing() -> dict[str, set[str]]:
            uris = list(wanted)
            seen: dict[str, set[str]] = {}
            for start in range(0, len(uris), 25):
                for view in reader.app.bsky.feed.get_posts({"uris": uris[start : start + 25]}).posts:
                    seen[view.uri] = {label.val for label in view.author.labels or () if not label.neg}
            return {
                uri: want - seen.get(uri, set())
                for uri, want in wanted.items()
                if want - seen.get(uri, set())
            }

        if wanted and not wait_until(lambda: not missing(), timeout=timeout):
            raise AssertionError(
                f"the AppView never showed these profile self-labels on post views: {missing()}"
            )

    def set_profile_labels(self, handle: str, values: tuple[str, ...]) -> None:
        """Self-label an account on its profile record, as the Bluesky app does (read the record, add
        `labels`, write it back if unchanged meanwhile): `!no-unauthenticated` is its "discourage apps
        from showing my account to logged-out users". `settle()` waits until post views show them."""
        from atproto import models

        account = self.accounts[handle]
        current = account.client.com.atproto.repo.get_record(
            {"repo": account.did, "collection": "app.bsky.actor.profile", "rkey": "self"}
        )
        value = current.value
        record = (
            value.model_dump(by_alias=True, exclude_none=True)
            if hasattr(value, "model_dump")
            else dict(value)
        )
        record["$type"] = "app.bsky.actor.profile"
        record["labels"] = {
            "$type": "com.atproto.label.defs#selfLabels",
            "values": [{"val": val} for val in values],
        }
        account.client.com.atproto.repo.put_record(
            models.ComAtprotoRepoPutRecord.Data(
                repo=account.did,
                collection="app.bsky.actor.profile",
                rkey="self",
                record=record,
                swap_record=current.cid,
            )
        )
        self.profile_labels[handle] = tuple(values)

    def account(self, handle: str, display_name: str = "", description: str = "") -> Account:
        from atproto import Client, models

        if handle in self.accounts:
            return self.accounts[handle]
        client = Client(base_url=self.pds)
        created = client.com.atproto.server.create_account(
            models.ComAtprotoServerCreateAccount.Data(
                handle=handle, email=f"{handle}@example.com", password=PASSWORD
            )
        )
        client.login(handle, PASSWORD, fetch_bsky_profile=False)
        account = Account(handle, created.did, client)
        self.accounts[handle] = account
        if display_name:
            self._put(
                account,
                "app.bsky.actor.profile",
                "self",
                {
                    "$type": "app.bsky.actor.profile",
                    "displayName": display_name,
                    "description": description,
                },
            )
        return account

    def _create(self, account: Account, collection: str, record: dict) -> tuple[str, str]:
        from atproto import models

        response = account.client.com.atproto.repo.create_record(
            models.ComAtprotoRepoCreateRecord.Data(repo=account.did, collection=collection, record=record)
        )
        return response.uri, response.cid

    def _put(self, account: Account, collection: str, rkey: str, record: dict) -> None:
        from atproto import models

        account.client.com.atproto.repo.put_record(
            models.ComAtprotoRepoPutRecord.Data(
                repo=account.did, collection=collection, rkey=rkey, record=record
            )
        )

    def facets(self, text: str, with_tags: bool = True) -> list[dict]:
        """Richtext facets for #tags (case kept), links and @handle.test mentions, by UTF-8 byte offsets."""
        found = []

        def span(match: re.Match, group: int = 0) -> dict:
            start = len(text[: match.start(group)].encode())
            return {"byteStart": start, "byteEnd": start + len(match.group(group).encode())}

        if with_tags:
            for match in _TAG.finditer(text):
                found.append(
                    {
                        "index": span(match),
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": match.group(1)}],
                    }
                )
        for match in _LINK.finditer(text):
            found.append(
                {
                    "index": span(match),
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group(0)}],
                }
            )
        for match in _MENTION.finditer(text):
            if match.group(1) in self.accounts:
                found.append(
                    {
                        "index": span(match),
                        "features": [
                            {
                                "$type": "app.bsky.richtext.facet#mention",
                                "did": self.accounts[match.group(1)].did,
                            }
                        ],
                    }
                )
        return sorted(found, key=lambda f: f["index"]["byteStart"])

    def post(
        self,
        handle: str,
        text: str,
        langs: tuple[str, ...] = ("en",),
        *,
        tags: tuple[str, ...] = (),
        facet_tags: bool = True,
        reply_to: Ref | None = None,
        quote: Ref | None = None,
        images: tuple[str, ...] = (),
        card: tuple[str, str] | None = None,
        labels: tuple[str, ...] = (),
        age: timedelta = timedelta(0),
    ) -> Ref:
        """One post; `images` are alt texts (a tiny PNG is uploaded for each)."""
        account = self.accounts[handle]
        facets = self.facets(text, with_tags=facet_tags)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": iso(datetime.now(UTC) - age),
            "langs": list(langs),
        }
        if facets:
            record["facets"] = facets
        if tags:
            record["tags"] = list(tags)
        if labels:
            record["labels"] = {
                "$type": "com.atproto.label.defs#selfLabels",
                "values": [{"val": val} for val in labels],
            }
        if reply_to is not None:
            root = reply_to.strong()
            record["reply"] = {"root": root, "parent": reply_to.strong()}
        media = None
        if images:
            media = {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "alt": alt,
                        "image": self.upload_png(account, index),
                        "aspectRatio": {"width": 2, "height": 2},
                    }
                    for index, alt in enumerate(images)
                ],
            }
        if card:
            media = {
                "$type": "app.bsky.embed.external",
                "external": {"uri": card[0], "title": card[1], "description": f"{card[1]}: a summary"},
            }
        if quote is not None and media is not None:
            record["embed"] = {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": quote.strong()},
                "media": media,
            }
        elif quote is not None:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": quote.strong()}
        elif media is not None:
            record["embed"] = media
        uri, cid = self._create(account, "app.bsky.feed.post", record)
        self.posts_by.setdefault(handle, []).append(uri)
        if reply_to is not None:
            self._counted(reply_to, "replies")
        if quote is not None:
            self._counted(quote, "quotes")
        facet_tag_values = tuple(
            feature["tag"] for facet in facets for feature in facet["features"] if "tag" in feature
        )
        return Ref(uri, cid, handle, text, facet_tag_values, tuple(tags), tuple(langs))

    def upload_png(self, account: Account, index: int = 0) -> dict:
        import warnings

        with warnings.catch_warnings():  # the SDK posts raw bytes with httpx's deprecated `data=`
            warnings.simplefilter("ignore", DeprecationWarning)
            blob = account.client.com.atproto.repo.upload_blob(tiny_png((40 * index % 256, 120, 200)))
        return blob.blob.model_dump(by_alias=True, exclude_none=True)

    def like(self, handle: str, post: Ref) -> Ref:
        uri, cid = self._create(
            self.accounts[handle],
            "app.bsky.feed.like",
            {"$type": "app.bsky.feed.like", "subject": post.strong(), "createdAt": iso(datetime.now(UTC))},
        )
        self._counted(post, "likes")
        return Ref(uri, cid, handle)

    def repost(self, handle: str, post: Ref) -> Ref:
        uri, cid = self._create(
            self.accounts[handle],
            "app.bsky.feed.repost",
            {"$type": "app.bsky.feed.repost", "subject": post.strong(), "createdAt": iso(datetime.now(UTC))},
        )
        self._counted(post, "reposts")
        return Ref(uri, cid, handle)

    def follow(self, handle: str, subject: str) -> None:
        self._create(
            self.accounts[handle],
            "app.bsky.graph.follow",
            {
                "$type": "app.bsky.graph.follow",
                "subject": self.accounts[subject].did,
                "createdAt": iso(datetime.now(UTC)),
            },
        )

    def curation_list(self, handle: str, name: str, members: list[str]) -> str:
        account = self.accounts[handle]
        now = iso(datetime.now(UTC))
        uri, _ = self._create(
            account,
            "app.bsky.graph.list",
            {
                "$type": "app.bsky.graph.list",
                "name": name,
                "purpose": "app.bsky.graph.defs#curatelist",
                "description": "Educators worth following",
                "createdAt": now,
            },
        )
        for member in members:
            self._create(
                account,
                "app.bsky.graph.listitem",
                {
                    "$type": "app.bsky.graph.listitem",
                    "subject": self.accounts[member].did,
                    "list": uri,
                    "createdAt": now,
                },
            )
        return uri

    def feed_generator(self, handle: str, rkey: str, generator_did: str, name: str) -> str:
        account = self.accounts[handle]
        self._put(
            account,
            "app.bsky.feed.generator",
            rkey,
            {
                "$type": "app.bsky.feed.generator",
                "did": generator_did,
                "displayName": name,
                "description": "Picks for a personal learning network",
                "createdAt": iso(datetime.now(UTC)),
            },
        )
        return f"at://{account.did}/app.bsky.feed.generator/{rkey}"


def wait_until(check, timeout: float = 20.0, interval: float = 0.2):
    """Poll `check()` until it returns something truthy (the AppView indexes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
