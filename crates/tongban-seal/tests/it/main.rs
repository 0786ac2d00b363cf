#![allow(clippy::unwrap_used)]

mod batch_vs_strict;
mod jcs_oracle;
mod sign_verify;
