//! config.json: loading, validation and the default spec.

/// The runtime-spec version nook implements.
pub const SPEC_VERSION: &str = "1.3.0";
