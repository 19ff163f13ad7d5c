"""Presenting runs: what a deck or report shows (content), and the two ways to show it.

    content.py   gather(records) -> Content: the table cells, each run's layers, facts and curves
    slides.py    write_slides(records, "results.pptx")   the PowerPoint deck
    report.py    write_report(records, "report.html")    the same as one self-contained HTML page

Reads run records (mlcl_train.runs.store) and rebuilds models through mlcl_train.training.engine; never the
training loop.
"""
