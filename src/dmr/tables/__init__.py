"""The paper's tables, each written as CSV (plain numbers), Markdown and LaTeX (booktabs).

Every table derives from the tidy per-case tables (metrics CSVs, clinical indices, training
histories, timing CSVs) and, for the other methods of Tables III and V, from the paper's
published values (:mod:`dmr.published`); nothing is typed in by hand. Each builder returns a
:class:`Table` whose ``cells`` (one row per reproduced number, with a bootstrap interval) feed
``results/stats/<table>.csv``.

Modules: :mod:`.render` (the one renderer), :mod:`.cells` (the cells frame and intervals),
:mod:`.table1`, :mod:`.comparison` (II(a), IV, VI(a), VI(b)), :mod:`.clinical` (II(b), IV's mass
rows), :mod:`.heldout` (III, V).
"""

from dmr.tables.cells import CELL_COLUMNS, Bootstrap
from dmr.tables.clinical import table2b
from dmr.tables.comparison import comparison_table, table2a, table4, table6
from dmr.tables.confusion import confusion_measures, table5
from dmr.tables.heldout import table3
from dmr.tables.render import Table, to_html, to_latex, to_markdown, write_cells, write_table
from dmr.tables.table1 import table1

__all__ = [
    "CELL_COLUMNS",
    "Bootstrap",
    "Table",
    "comparison_table",
    "confusion_measures",
    "table1",
    "table2a",
    "table2b",
    "table3",
    "table4",
    "table5",
    "table6",
    "to_html",
    "to_latex",
    "to_markdown",
    "write_cells",
    "write_table",
]
