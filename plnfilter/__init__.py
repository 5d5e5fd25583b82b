"""plnfilter: fetch, filter, rank and archive posts from a Personal Learning Network.

The pipeline: sources yield raw API objects, `normalize` turns them into one `Post` type,
`rules.evaluate` judges, `rank.score` scores, `store.save_page` archives, `query` and
`export` hand rows back to the shell. Only `plnfilter.cli` imports click and rich.
"""

__version__ = "0.1.0"
