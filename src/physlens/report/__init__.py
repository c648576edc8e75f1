"""Reports drawn from finished results, never from live models: figures, tables and self-contained HTML pages
(``html``, ``tables``, ``labels``) for the hidden-unit, lottery-ticket, nuclear, SAE and dynamics studies.
"""
