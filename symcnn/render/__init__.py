"""Rendering a derivation: SymPy printers, tensors as LaTeX, and the text, LaTeX and JSON outputs."""
