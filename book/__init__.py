"""The course as a static website: ``python -m book`` builds ``build/book/`` (see build.py)."""
