"""Derivation sheets: the document as LaTeX through Jinja2 templates, figures, worked numbers, PDF."""
