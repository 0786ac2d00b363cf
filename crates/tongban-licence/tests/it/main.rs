#![allow(clippy::unwrap_used)]

mod duplicates;
mod fixture;
mod independent;
mod issue_verify;
mod rules;
mod trust_file;
mod w3c_vector;
