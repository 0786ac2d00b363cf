//! Electronic licences (电子证照).
//!
//! A licence is a W3C Verifiable Credential 2.0 carrying the GB/T 36903
//! metadata, secured by a Data Integrity proof with the `eddsa-jcs-2022`
//! cryptosuite, with its status in W3C Bitstring Status Lists.
//!
//! No IO and no clock: keys, instants, status lists and attachment digests
//! are passed in. The store and the CLI do the IO.
#![forbid(unsafe_code)]

pub mod credential;
pub mod di;
pub mod didkey;
pub mod problem;
pub mod rules;
pub mod status;
pub mod trustfile;
pub mod types;
pub mod verify;
pub mod vocab;

pub use credential::{
    Allocation, AttachmentRef, Holder, IssueError, IssueRequest, IssuedLicence, Issuer,
    ServiceItemRef,
};
pub use problem::{Problem, ProblemCode};
pub use rules::{Facts, Rules};
pub use status::{Bitstring, LicenceStatus, StatusPurpose, VerifiedStatusList};
pub use types::{LicenceType, LicenceTypes, TypeError};
pub use verify::{
    KeyLookup, LicenceSummary, Trust, Verification, VerifiedLicence, VerifyOptions,
    presented_attachment, verify, verify_bytes, verify_many,
};
