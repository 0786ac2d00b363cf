#![allow(clippy::unwrap_used)]

mod did_key;
mod duplicates;
mod fixture;
mod independent;
mod issue_verify;
mod proofs;
mod rules;
mod trust_file;
mod w3c_vector;
