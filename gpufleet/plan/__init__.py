"""`gpufleet plan`: the plan as data (build), its tables (sections, text) and the comparison with another stack (compare)."""
