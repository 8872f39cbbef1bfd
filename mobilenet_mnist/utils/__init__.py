"""Small shared helpers: argument checks, names, files, module unwrapping."""
