"""The rate budget shared by many processes through Redis."""
