"""How large a filter file may be and how much its YAML may expand: checked before and while reading.

Apart from the reader (`yaml_lines`, which loads PyYAML) so that `load` can refuse a huge file, and
take an unchanged one from the cache, without loading PyYAML."""

MAX_BYTES = 1_000_000
MAX_NODES = 100_000  # values after alias expansion; a real filter file has a few hundred
MAX_ALIASES = 1_000
MAX_DEPTH = 64
