"""The derivation: the chain rule over a network's forward terms, closed forms and their proofs."""
