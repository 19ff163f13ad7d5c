"""The run folder: writing it, reading it back as records, its lock, and the runs' labels."""
