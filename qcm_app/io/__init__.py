"""Files: the run-file format, importers of other programs' logs, safe output, the offline analysis of a
file, and the live valve-marker sources."""
