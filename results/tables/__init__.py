"""Every table of README.md and the manual, by the name that marks it in a page, one module per part of the study."""

from . import forecast, graphs, memory, scale, speed, text

TABLES = {**memory.TABLES, **text.TABLES, **graphs.TABLES, **speed.TABLES, **scale.TABLES,
          **forecast.TABLES}
