"""The collaborators every actor of a process shares, built once from the process's Config."""

from __future__ import annotations

from actors.broker import client, config
from actors.fetch import Fetcher
from storage.counters import CompletionCounter
from storage.files import Layout, PublicUrls

layout = Layout(config.data_dir)
urls = PublicUrls(config.public_base_url)
counter = CompletionCounter(client)
fetcher = Fetcher(config)
