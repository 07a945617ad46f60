"""This phone's own side: the data directory, private files, processes, control socket."""
