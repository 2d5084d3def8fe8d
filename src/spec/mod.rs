//! config.json: loading, validation and the default spec.

mod default;
mod load;
mod schema_rules;
mod validate;

pub use default::default_spec;
pub use load::{load_bundle, parse_config, Bundle};
pub use validate::validate;

/// The runtime-spec version nook implements.
pub const SPEC_VERSION: &str = "1.3.0";
