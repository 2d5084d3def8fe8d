//! Containers on disk: one directory per id under --root.
