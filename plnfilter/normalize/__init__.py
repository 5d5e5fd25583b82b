"""Normalisers: one `to_post(raw) -> Post` per network, from wire JSON, without the SDKs' entity types."""
