"""The paper's published numbers as data, and their comparison with a run's numbers.

``load_published()`` returns every number of Tables I-VI and of the text as printed (one row per
number, keyed like the reproduced ``results/stats/<table>.csv`` cells).
"""

from dmr.published.load import COLUMNS, load_published, published_path

__all__ = ["COLUMNS", "load_published", "published_path"]
