"""Network analysis of the graph (shared partners between structures), read through SPARQL."""
