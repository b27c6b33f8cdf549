"""Networks as graphs of named tensors: sizing and shape checks, network files, presets."""
