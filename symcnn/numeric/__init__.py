"""Numbers from the formulas: compiled per layer, values loaded, drawn and checked, SGD."""
