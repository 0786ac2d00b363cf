#![allow(clippy::unwrap_used)]

mod batch_vs_strict;
mod jcs_oracle;
mod json_strict;
mod sign_verify;
