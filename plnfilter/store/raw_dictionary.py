"""The preset dictionary `post_raw` blobs are zlib-compressed with (see `rows.pack_raw`).

A post's raw API object is about 2.3 KB of JSON, most of it the same key names and markup in every
post; compressed alone, each blob would spell them out again. The dictionary holds the shapes of the
objects the networks send (key names in their usual order, empty values, Mastodon's markup), no
post's content. zlib records the dictionary's Adler-32 in each blob (`DICTIONARIES` maps it back),
so a blob written before it (plain zlib) or after a later dictionary still reads.

Frozen: a blob names its dictionary by checksum, so changing a byte here would make every blob
written with it unreadable. A better dictionary is a new constant added to DICTIONARIES.

Outside plnfilter: `zlib.decompressobj(zdict=RAW_DICTIONARY).decompress(blob)`; migration m011 also
copies it into the archive's `settings` table (key `raw_dictionary`) for tools that only have the file.
"""

from __future__ import annotations

import zlib

RAW_DICTIONARY = (
    # Bluesky post views and feed items (app.bsky.feed.defs#postView, #feedViewPost)
    '{"uri":"at://did:plc:","cid":"bafyrei","author":{"did":"did:plc:","handle":".bsky.soci'
    'al","displayName":"","avatar":"https://cdn.bsky.app/img/avatar/plain/did:plc:","associ'
    'ated":{"chat":{"allowIncoming":"following"}},"viewer":{"muted":false,"blockedBy":false'
    '},"labels":[],"createdAt":"},"record":{"$type":"app.bsky.feed.post","createdAt":"","em'
    'bed":{"$type":"app.bsky.embed.external","external":{"description":"","thumb":{"$type":'
    '"blob","ref":{"$link":"bafkrei"},"mimeType":"image/jpeg","size":},"title":"","uri":"ht'
    'tps://"}},"facets":[{"$type":"app.bsky.richtext.facet","features":[{"$type":"app.bsky.'
    'richtext.facet#link","uri":"https://"}],"index":{"byteEnd":,"byteStart":}},{"features"'
    ':[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:"}],"index":{"byteEnd":,"b'
    'yteStart":}},{"$type":"app.bsky.richtext.facet","features":[{"$type":"app.bsky.richtex'
    't.facet#tag","tag":""}],"index":{"byteEnd":,"byteStart":}}],"langs":["en"],"reply":{"p'
    'arent":{"cid":"bafyrei","uri":"at://did:plc:"},"root":{"cid":"bafyrei","uri":"at://did'
    ':plc:"}},"text":""},"embed":{"$type":"app.bsky.embed.external#view","external":{"uri":'
    '"https://","title":"","description":"","thumb":"https://cdn.bsky.app/img/feed_thumbnai'
    'l/plain/did:plc:"}},"embed":{"$type":"app.bsky.embed.images#view","images":[{"thumb":"'
    'https://cdn.bsky.app/img/feed_thumbnail/plain/did:plc:","fullsize":"https://cdn.bsky.a'
    'pp/img/feed_fullsize/plain/did:plc:","alt":"","aspectRatio":{"height":,"width":}}]},"e'
    'mbed":{"$type":"app.bsky.embed.record#view","record":{"$type":"app.bsky.embed.record#v'
    'iewRecord","uri":"at://did:plc:","cid":"bafyrei","author":{"did":"did:plc:","handle":"'
    '.bsky.social","displayName":"","avatar":"https://cdn.bsky.app/img/avatar/plain/did:plc'
    ':","associated":{"chat":{"allowIncoming":"following"}},"viewer":{"muted":false,"blocke'
    'dBy":false},"labels":[],"createdAt":""},"value":{},"labels":[],"indexedAt":"","embeds"'
    ':[]}},"replyCount":0,"repostCount":0,"likeCount":0,"quoteCount":0,"bookmarkCount":0,"i'
    'ndexedAt":"","viewer":{"bookmarked":false,"threadMuted":false,"embeddingDisabled":fals'
    'e},"labels":[],"threadgate":{}}{"post":{},"reason":{"$type":"app.bsky.feed.defs#reason'
    'Repost","by":{"did":"did:plc:","handle":".bsky.social","displayName":""},"indexedAt":"'
    '"},"reply":{"root":{"$type":"app.bsky.feed.defs#postView"},"parent":{"$type":"app.bsky'
    '.feed.defs#postView"}}}'
    # Mastodon statuses (REST API v1 Status, Account, MediaAttachment, Mention, Tag, PreviewCard)
    '{"id":"","created_at":"","in_reply_to_id":null,"in_reply_to_account_id":null,"sensitiv'
    'e":false,"spoiler_text":"","visibility":"public","language":"en","uri":"https://","url'
    '":"https://","replies_count":0,"reblogs_count":0,"favourites_count":0,"quotes_count":0'
    ',"edited_at":null,"favourited":false,"reblogged":false,"muted":false,"bookmarked":fals'
    'e,"pinned":false,"content":"<p></p>","filtered":[],"reblog":null,"application":{"name"'
    ':"","website":null},"account":{"id":"","username":"","acct":"","display_name":"","lock'
    'ed":false,"bot":false,"discoverable":true,"indexable":true,"group":false,"created_at":'
    '"T00:00:00.000Z","note":"<p></p>","url":"https://","uri":"https://","avatar":"https://'
    '","avatar_static":"https://","header":"https://","header_static":"https://","followers'
    '_count":0,"following_count":0,"statuses_count":0,"last_status_at":"","hide_collections'
    '":null,"noindex":false,"emojis":[],"roles":[],"fields":[{"name":"","value":"<a href=\\"'
    'https://\\" target=\\"_blank\\" rel=\\"nofollow noopener me\\" translate=\\"no\\"><span class'
    '=\\"invisible\\">https://</span><span class=\\"\\"></span><span class=\\"invisible\\"></span'
    '></a>","verified_at":null}]},"media_attachments":[{"id":"","type":"image","url":"https'
    '://","preview_url":"https://","remote_url":null,"preview_remote_url":null,"text_url":n'
    'ull,"meta":{"original":{"width":,"height":,"size":"","aspect":},"small":{"width":,"hei'
    'ght":,"size":"","aspect":}},"description":"","blurhash":""}],"mentions":[{"id":"","use'
    'rname":"","url":"https://","acct":""}],"tags":[{"name":"","url":"https://"}],"emojis":'
    '[],"card":{"url":"https://","title":"","description":"","language":"en","type":"link",'
    '"author_name":"","author_url":"","provider_name":"","provider_url":"","html":"","width'
    '":0,"height":0,"image":null,"image_description":"","embed_url":"","blurhash":null,"pub'
    'lished_at":null,"authors":[]},"poll":null,"quote":null,"quote_approval":{"automatic":['
    '"public"],"manual":[],"current_user":"automatic"}}'
    # Mastodon statuses as Mastodon 4.x serialises them, keys in its order
    '{"id":"","uri":"https://","url":"https://","account":{"id":"","username":"","acct":"",'
    '"display_name":"","locked":false,"bot":false,"discoverable":null,"group":false,"create'
    'd_at":"","note":"","url":"https://","uri":"https://","avatar":"https://","avatar_stati'
    'c":"https://","header":"https://","header_static":"https://","followers_count":0,"foll'
    'owing_count":0,"statuses_count":0,"last_status_at":"","emojis":[],"fields":[],"indexab'
    'le":false,"hide_collections":null,"attribution_domains":[],"noindex":null,"roles":[],"'
    'moved":null,"suspended":null,"limited":null},"in_reply_to_id":null,"in_reply_to_accoun'
    't_id":null,"reblog":null,"content":"<p></p>","created_at":"","edited_at":null,"reblogs'
    '_count":0,"favourites_count":0,"replies_count":0,"reblogged":false,"favourited":false,'
    '"bookmarked":false,"muted":false,"pinned":false,"sensitive":false,"spoiler_text":"","v'
    'isibility":"public","language":"en","mentions":[],"media_attachments":[],"emojis":[],"'
    'tags":[],"card":null,"poll":null,"application":null,"quote":null,"quote_approval_polic'
    'y":"public","filtered":[]}"avatar_description":"","header_description":"","show_media"'
    ':true,"show_media_replies":true,"show_featured":true,"feature_approval":{"automatic":['
    '],"manual":[],"current_user":"automatic"},"tagged_collections":[],"quote_approval":{"a'
    'utomatic":["public"],"manual":[],"current_user":"automatic"}'
    # The markup Mastodon writes into `content`: mentions, links, hashtags
    '<a href=\\"https://\\" class=\\"u-url mention\\">@<span></span></a></span> <span class=\\"h'
    '-card\\" translate=\\"no\\"><a href=\\"https://\\" target=\\"_blank\\" rel=\\"nofollow noopene'
    'r noreferrer\\" translate=\\"no\\"><span class=\\"invisible\\">https://</span><span class=\\'
    '"ellipsis\\"></span><span class=\\"invisible\\"></span></a></p><p><a href=\\"https://\\" cl'
    'ass=\\"mention hashtag\\" rel=\\"tag\\">#<span></span></a> '
).encode("ascii")

DICTIONARIES: dict[int, bytes] = {zlib.adler32(RAW_DICTIONARY): RAW_DICTIONARY}
"""Every dictionary a blob may name, by its Adler-32 checksum."""
