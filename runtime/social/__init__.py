"""Personal laces, friendship and the dissemination of posts along it."""
