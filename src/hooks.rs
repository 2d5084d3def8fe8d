//! The six OCI hook kinds: state JSON on stdin, env, timeout.
