"""The document model: what every output shows of a derivation, in order, built once."""
