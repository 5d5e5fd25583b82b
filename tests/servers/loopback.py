"""Where a test server on 127.0.0.1 answers, for the classes that listen on `self.port`."""

from __future__ import annotations


class OnLoopback:
    """`host` (127.0.0.1:port) and `base_url` of a server listening on 127.0.0.1:`self.port`."""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"
