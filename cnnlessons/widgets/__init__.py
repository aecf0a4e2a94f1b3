"""Interactive explorers for the lessons (ipywidgets).

Each explorer keeps its logic in a plain function or class that is unit-tested without a
browser; the widget only wires sliders to it and redraws.
"""
