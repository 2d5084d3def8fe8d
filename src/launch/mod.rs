//! Creating a container: the parent side and the init side, and the
//! protocol between them.
