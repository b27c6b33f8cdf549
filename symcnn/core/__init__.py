"""The vocabulary every stage shares: sizes and shapes, named symbol grids, SymPy functions, array ops."""
