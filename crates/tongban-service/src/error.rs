//! Service errors: one vocabulary of stable codes, and the errors of the
//! libraries the service calls, each kept whole (by variant) so that its
//! own code and words survive.

use std::borrow::Cow;

use tongban_licence::IssueError;
use tongban_licence::types::TypeError;
use tongban_schema::SchemaError;
use tongban_seal::archive::PublishedError;
use tongban_seal::chain::LogFault;
use tongban_seal::keyreg::RegistrationError;
use tongban_store::StoreError;

use crate::keystore::KeyStoreError;

tongban_seal::stable_codes! {
    /// What the service layer refuses, or which of the hub's own failures
    /// happened. Each code is documented here once and never renamed: it
    /// reaches departments (as the reason of `SERVICE_REFUSED`), other
    /// regions' hubs, the CLI's `--json` output and the HTTP API.
    pub enum Code {
        // Departments and the hub
        /// This hub has no region yet: `tongban init` was not run.
        HubNotInitialised => "HUB_NOT_INITIALISED",
        /// This hub already serves another region.
        HubAlreadyInitialised => "HUB_ALREADY_INITIALISED",
        /// The hub's name is empty, too long, padded or has a control character.
        HubNameInvalid => "HUB_NAME_INVALID",
        /// Not a region code (行政区划代码, GB/T 2260): six digits of a real level.
        RegionCodeInvalid => "REGION_CODE_INVALID",
        /// No department is registered with this code.
        DepartmentUnknown => "DEPARTMENT_UNKNOWN",
        /// A department with this code is already registered.
        DepartmentExists => "DEPARTMENT_EXISTS",
        /// A department's code is not a valid unified social credit code (统一社会信用代码).
        DepartmentCodeInvalid => "DEPARTMENT_CODE_INVALID",
        /// A department's name is empty, too long, padded or has a control character.
        DepartmentNameInvalid => "DEPARTMENT_NAME_INVALID",
        /// A department's contact is empty, too long, padded or has a control character.
        DepartmentContactInvalid => "DEPARTMENT_CONTACT_INVALID",
        /// The parent department named is not registered.
        DepartmentParentUnknown => "DEPARTMENT_PARENT_UNKNOWN",
        /// The platform level does not fit under the parent's (district → town/street →
        /// village/community).
        DepartmentLevelInvalid => "DEPARTMENT_LEVEL_INVALID",
        /// The department is not active (suspended or retired) and may not act.
        DepartmentSuspended => "DEPARTMENT_SUSPENDED",
        /// The department is retired; retirement is final.
        DepartmentRetired => "DEPARTMENT_RETIRED",
        /// The department already has the status asked for.
        DepartmentStatusUnchanged => "DEPARTMENT_STATUS_UNCHANGED",
        // Keys
        /// No key with this id is registered.
        KeyUnknown => "KEY_UNKNOWN",
        /// The key is already registered.
        KeyExists => "KEY_EXISTS",
        /// The key was revoked and cannot be rotated; create a new key instead.
        KeyRevoked => "KEY_REVOKED",
        /// The key is already revoked.
        KeyAlreadyRevoked => "KEY_ALREADY_REVOKED",
        /// The key's window has already closed.
        KeyExpired => "KEY_EXPIRED",
        /// A department's key signs licences (issue) or envelopes (exchange), not both.
        KeyPurposeInvalid => "KEY_PURPOSE_INVALID",
        /// The hub does not hold this key's secret (a department's own exchange key): its
        /// system makes the successor.
        KeyNotHeld => "KEY_NOT_HELD",
        /// An issuing key never leaves the hub.
        KeyNotExportable => "KEY_NOT_EXPORTABLE",
        /// A rotation's overlap is outside 0 to 365 days.
        OverlapInvalid => "OVERLAP_INVALID",
        /// The owner has no key of the purpose usable now on this node.
        SigningKeyNone => "SIGNING_KEY_NONE",
        // Certificate authority
        /// This hub has no certificate authority yet: `tongban ca init` was not run.
        CaNotInitialised => "CA_NOT_INITIALISED",
        /// This hub already has a certificate authority.
        CaAlreadyInitialised => "CA_ALREADY_INITIALISED",
        /// The CA's private key cannot be read.
        CaKeyDamaged => "CA_KEY_DAMAGED",
        /// No certificate with this serial was issued.
        CertUnknown => "CERT_UNKNOWN",
        /// The certificate is revoked; issue a new one instead of renewing it.
        CertRevoked => "CERT_REVOKED",
        /// The certificate is already revoked.
        CertAlreadyRevoked => "CERT_ALREADY_REVOKED",
        /// The CA certificate is not renewed this way.
        CertNotRenewable => "CERT_NOT_RENEWABLE",
        /// The CA certificate is not revoked through its own CRL.
        CertNotRevocable => "CERT_NOT_REVOCABLE",
        /// A server certificate names no DNS name or address.
        CertNamesMissing => "CERT_NAMES_MISSING",
        /// A name for a certificate is not a valid DNS name, address or URI.
        CertNameInvalid => "CERT_NAME_INVALID",
        /// A certificate's validity is outside the days allowed.
        CertValidityInvalid => "CERT_VALIDITY_INVALID",
        /// Not one of the CRL revocation reasons the CA uses.
        RevocationReasonInvalid => "REVOCATION_REASON_INVALID",
        // Schemas
        /// No schema is registered as this `id@version`.
        SchemaUnknown => "SCHEMA_UNKNOWN",
        /// Neither `--id` nor the schema's `x-message-type` annotation gives an id.
        SchemaIdMissing => "SCHEMA_ID_MISSING",
        /// Neither `--version` nor the schema's `x-message-type` annotation gives a version.
        SchemaVersionMissing => "SCHEMA_VERSION_MISSING",
        /// A licence type's schema is not published as its type code and version.
        SchemaIdMismatch => "SCHEMA_ID_MISMATCH",
        /// Not a kind of schema the hub keeps.
        SchemaKindInvalid => "SCHEMA_KIND_INVALID",
        /// The schema is of another kind than the use asks (e.g. a licence type where a message
        /// schema is needed).
        SchemaKindConflict => "SCHEMA_KIND_CONFLICT",
        /// This version is already published with different content; published versions are
        /// immutable.
        SchemaVersionConflict => "SCHEMA_VERSION_CONFLICT",
        /// The version is not newer than the one published.
        SchemaVersionNotNewer => "SCHEMA_VERSION_NOT_NEWER",
        /// The new version rejects data the published one accepts (publish anyway only when
        /// told to).
        SchemaIncompatible => "SCHEMA_INCOMPATIBLE",
        // Catalogue
        /// The resource is not in the catalogue.
        CatalogueUnknown => "CATALOGUE_UNKNOWN",
        /// The resource is already in the catalogue; publish a new version as an update.
        CatalogueExists => "CATALOGUE_EXISTS",
        /// A catalogue entry's text (name, description, tags, field labels) breaks its limits.
        CatalogueInvalid => "CATALOGUE_INVALID",
        /// Resource ids starting with `hub.` name the hub's own services.
        CatalogueIdReserved => "CATALOGUE_ID_RESERVED",
        /// Only the resource's provider may publish or change it.
        CatalogueNotProvider => "CATALOGUE_NOT_PROVIDER",
        /// A field the entry describes is not in its schema.
        CatalogueFieldUnknown => "CATALOGUE_FIELD_UNKNOWN",
        /// Not a sharing type (共享类型): unconditional, conditional or not-shared.
        CatalogueSharingTypeInvalid => "CATALOGUE_SHARING_TYPE_INVALID",
        /// The resource is retired from the catalogue.
        CatalogueRetired => "CATALOGUE_RETIRED",
        /// A catalogue search gives no search term.
        CatalogueQueryEmpty => "CATALOGUE_QUERY_EMPTY",
        // Access
        /// No access application with this id.
        AccessUnknown => "ACCESS_UNKNOWN",
        /// The application was already decided, or is not in the state the action needs.
        AccessNotPending => "ACCESS_NOT_PENDING",
        /// Only the resource's provider decides applications for it.
        AccessNotProvider => "ACCESS_NOT_PROVIDER",
        /// The resource is shared unconditionally (无条件共享); no application is needed.
        AccessNotRequired => "ACCESS_NOT_REQUIRED",
        /// The resource is not shared (不予共享): only its provider uses it.
        AccessNotShared => "ACCESS_NOT_SHARED",
        /// The resource is shared on conditions (有条件共享) and the consumer has no approval
        /// covering this time.
        AccessNotGranted => "ACCESS_NOT_GRANTED",
        /// The consumer's approval for the resource has ended.
        AccessExpired => "ACCESS_EXPIRED",
        /// An approval's period ends before it starts, or lasts more than three years.
        AccessPeriodInvalid => "ACCESS_PERIOD_INVALID",
        /// A stated purpose (申请事由, `useCause`) is required and none was given.
        UseCauseRequired => "USE_CAUSE_REQUIRED",
        /// The stated purpose is longer than allowed.
        UseCauseTooLong => "USE_CAUSE_TOO_LONG",
        /// The stated purpose has control characters or breaks its limit.
        UseCauseInvalid => "USE_CAUSE_INVALID",
        /// A status change or revocation needs a reason.
        ReasonRequired => "REASON_REQUIRED",
        /// The reason is too long or has control characters.
        ReasonInvalid => "REASON_INVALID",
        // Service items and cases
        /// No service item (事项) with this code.
        ItemUnknown => "ITEM_UNKNOWN",
        /// A service item's code is not 1 to 64 of `A-Z a-z 0-9 . _ -`.
        ItemCodeInvalid => "ITEM_CODE_INVALID",
        /// A service item's or material's name is empty, too long, padded or has a control
        /// character.
        ItemNameInvalid => "ITEM_NAME_INVALID",
        /// Not an item type: 即办件, 承诺件, 联办件 or 上报件.
        ItemTypeInvalid => "ITEM_TYPE_INVALID",
        /// The promised time limit exceeds the legal one, or the legal one is too long.
        ItemTimeLimitInvalid => "ITEM_TIME_LIMIT_INVALID",
        /// The item's list of materials breaks its limits.
        ItemMaterialsInvalid => "ITEM_MATERIALS_INVALID",
        /// The item is registered by another department, which alone may change it.
        ItemNotOwner => "ITEM_NOT_OWNER",
        /// The item is handled by another department, which alone opens cases under it.
        ItemNotHandler => "ITEM_NOT_HANDLER",
        /// The item is no longer handled.
        ItemRetired => "ITEM_RETIRED",
        /// The item names no licence type among its materials: its cases read no licences.
        ItemNoLicenceMaterials => "ITEM_NO_LICENCE_MATERIALS",
        /// The item names no licence type for its result.
        ItemNoResultType => "ITEM_NO_RESULT_TYPE",
        /// The department has no case (办件) with this id.
        CaseUnknown => "CASE_UNKNOWN",
        /// A case id is not 1 to 64 of `A-Z a-z 0-9 . _ -`.
        CaseIdInvalid => "CASE_ID_INVALID",
        /// A case event does not follow from where the case stands (e.g. 办结 before 受理, or an event earlier than the last one).
        CaseEventOutOfOrder => "CASE_EVENT_OUT_OF_ORDER",
        /// A case event is not well formed (an unknown event, an empty reason, a bound of 0 days, a time in the future, another item than the case's).
        CaseEventInvalid => "CASE_EVENT_INVALID",
        /// The case already has events on the hub: an import never adds to a stored case
        /// (report its next events one by one).
        CaseAlreadyReported => "CASE_ALREADY_REPORTED",
        /// A licence query's case reference is empty, too long, padded or has a control
        /// character.
        CaseRefInvalid => "CASE_REF_INVALID",
        /// A case with this id exists for another item or holder.
        CaseConflict => "CASE_CONFLICT",
        /// The case is concluded.
        CaseConcluded => "CASE_CONCLUDED",
        /// The result names another holder than the case.
        CaseHolderMismatch => "CASE_HOLDER_MISMATCH",
        /// Several departments have a case with this id: name the department.
        CaseAmbiguous => "CASE_AMBIGUOUS",
        /// The result is not of the licence type the item issues.
        ResultTypeMismatch => "RESULT_TYPE_MISMATCH",
        /// The item names no material of this licence type.
        LicenceTypeNotInItem => "LICENCE_TYPE_NOT_IN_ITEM",
        // Licences
        /// No licence type (证照类型) with this code is published.
        LicenceTypeUnknown => "LICENCE_TYPE_UNKNOWN",
        /// No licence with this identifier (证照标识).
        LicenceNotFound => "LICENCE_NOT_FOUND",
        /// The licence is revoked; revocation is final.
        LicenceAlreadyRevoked => "LICENCE_ALREADY_REVOKED",
        /// The licence's status does not allow the change (e.g. reinstating one that is not
        /// suspended).
        LicenceStatusConflict => "LICENCE_STATUS_CONFLICT",
        /// Not a licence identifier (证照标识, GB/T 36904) with a correct check character.
        IdentifierInvalid => "IDENTIFIER_INVALID",
        /// Not a holder code type (持证主体代码类型).
        HolderCodeTypeUnknown => "HOLDER_CODE_TYPE_UNKNOWN",
        /// The holder's code is not a valid code of its type.
        HolderCodeInvalid => "HOLDER_CODE_INVALID",
        /// The holder's name is empty, too long, padded or has a control character.
        HolderNameInvalid => "HOLDER_NAME_INVALID",
        /// A request (an issue request, an HTTP request's body or form) is not of the
        /// documented shape (a member missing, unknown or of the wrong type, or too long).
        RequestInvalid => "REQUEST_INVALID",
        /// A licence query does not name who asks.
        RequesterRequired => "REQUESTER_REQUIRED",
        /// Who asks is too long, padded or has a control character.
        RequesterInvalid => "REQUESTER_INVALID",
        /// More licences in one batch than allowed.
        BatchTooLarge => "BATCH_TOO_LARGE",
        /// No status list of this issuer, purpose and sequence is published.
        StatusListUnknown => "STATUS_LIST_UNKNOWN",
        /// The licence's attachment is missing from the blob store.
        AttachmentUnavailable => "ATTACHMENT_UNAVAILABLE",
        /// A trust list's validity is outside more than 0 s and at most 28 days.
        TrustValidityInvalid => "TRUST_VALIDITY_INVALID",
        // Audit
        /// The chain holds together, but no anchor is pinned on this node, so checkpoints were
        /// not checked against one.
        AuditAnchorUnpinned => "AUDIT_ANCHOR_UNPINNED",
        /// The key store already pins an audit anchor; a pin is never replaced.
        AuditPinExists => "AUDIT_PIN_EXISTS",
        /// The key store's audit pin cannot be read.
        AuditPinInvalid => "AUDIT_PIN_INVALID",
        /// The checkpoint interval is outside the entries allowed.
        AuditIntervalInvalid => "AUDIT_INTERVAL_INVALID",
        // Sealed secrets
        /// Sealing secrets in the database needs key-encryption keys (`TONGBAN_KEK_FILE`).
        KekRequired => "KEK_REQUIRED",
        /// The key store directory to import from does not exist.
        KeyStoreDirMissing => "KEY_STORE_DIR_MISSING",
        /// A line of an audit file is longer than allowed.
        AuditLineTooLong => "AUDIT_LINE_TOO_LONG",
        /// A line of an audit file is not UTF-8.
        AuditLineNotUtf8 => "AUDIT_LINE_NOT_UTF8",
        // Peers
        /// The region is not an active peer of this hub.
        PeerUnknown => "PEER_UNKNOWN",
        /// The region is already a peer: remove it first to replace its card.
        PeerExists => "PEER_EXISTS",
        /// The card is this hub's own.
        PeerIsSelf => "PEER_IS_SELF",
        /// A peer card's region is not a region code.
        PeerRegionInvalid => "PEER_REGION_INVALID",
        /// A peer card's name is empty, too long, padded or has a control character.
        PeerNameInvalid => "PEER_NAME_INVALID",
        /// A peer's address is not `host:port`.
        PeerAddressInvalid => "PEER_ADDRESS_INVALID",
        /// A peer card's anchor is not an Ed25519 Multikey.
        PeerAnchorInvalid => "PEER_ANCHOR_INVALID",
        /// A peer card's CA certificate is not a usable CA certificate.
        PeerCaInvalid => "PEER_CA_INVALID",
        /// A peer's CRL does not parse or is not signed by its CA.
        PeerCrlInvalid => "PEER_CRL_INVALID",
        /// A peer's CRL was to be replaced by now and was not.
        PeerCrlStale => "PEER_CRL_STALE",
        /// No CRL of the peer's CA has been fetched yet.
        PeerCrlMissing => "PEER_CRL_MISSING",
        /// A peer's certificate does not parse.
        PeerCertificateInvalid => "PEER_CERTIFICATE_INVALID",
        /// The peer's CA revoked the certificate.
        PeerCertificateRevoked => "PEER_CERTIFICATE_REVOKED",
        /// A peer's catalogue is not of the documented shape or breaks its limits.
        PeerCatalogueInvalid => "PEER_CATALOGUE_INVALID",
        /// A peer's catalogue names a provider that is not a body of its region.
        PeerCatalogueForeignProvider => "PEER_CATALOGUE_FOREIGN_PROVIDER",
        /// No trust list of the peer has been fetched yet.
        TrustListMissing => "TRUST_LIST_MISSING",
        /// A peer's trust list is not of the documented shape or not the peer's.
        TrustListInvalid => "TRUST_LIST_INVALID",
        /// A peer's trust list is not signed by the anchor its card names.
        TrustListUntrusted => "TRUST_LIST_UNTRUSTED",
        /// A peer's trust list has expired.
        TrustListStale => "TRUST_LIST_STALE",
        /// A peer's trust list was issued before the one stored.
        TrustListRollback => "TRUST_LIST_ROLLBACK",
        /// A peer's trust list speaks for a department of this region.
        TrustListForeignIssuer => "TRUST_LIST_FOREIGN_ISSUER",
        // 12345 work orders
        /// No hotline office is named on this hub (`tongban hotline office`).
        HotlineOfficeMissing => "HOTLINE_OFFICE_MISSING",
        /// No work order has this id.
        OrderUnknown => "ORDER_UNKNOWN",
        /// A work order with this id exists.
        OrderExists => "ORDER_EXISTS",
        /// A work order is not well formed (its id, category, content, area or contact), or a step is not (an empty reason, an extension of 0 days).
        OrderStepInvalid => "ORDER_STEP_INVALID",
        /// The step does not follow from where the order stands, or is earlier than its last step.
        OrderStepOutOfOrder => "ORDER_STEP_OUT_OF_ORDER",
        /// The department may not take this step: only the hotline office creates, dispatches, decides, calls back and closes; only the unit dispatched to signs, returns, asks for time and replies.
        OrderStepForbidden => "ORDER_STEP_FORBIDDEN",
        /// A routing rule is not well formed: its area is empty, padded, longer than 64 characters or has control characters; its unit is the hotline office itself; or the hub already keeps 1000 rules.
        OrderRouteInvalid => "ORDER_ROUTE_INVALID",
        /// No routing rule for this category and area.
        OrderRouteUnknown => "ORDER_ROUTE_UNKNOWN",
        // Working-day calendar
        /// A calendar year's document is not of the documented shape, or a date in it is wrong (outside its year, a range backwards, a make-up working day on a weekday).
        CalendarInvalid => "CALENDAR_INVALID",
        /// Two entries of a calendar year claim the same day.
        CalendarOverlap => "CALENDAR_OVERLAP",
        /// A time limit runs into a year whose calendar is not loaded.
        CalendarYearMissing => "CALENDAR_YEAR_MISSING",
        // Supervision pushes and notices
        /// A warning threshold outside 1–99 % of the promised limit.
        ThresholdsInvalid => "THRESHOLDS_INVALID",
        /// No supervision notice has this id.
        NoticeUnknown => "NOTICE_UNKNOWN",
        /// The notice was answered already: one answer each.
        NoticeAnswered => "NOTICE_ANSWERED",
        /// The department may not do this with notices: only the supervising office (or a region administrator) issues them; only the unit asked answers.
        NoticeForbidden => "NOTICE_FORBIDDEN",
        /// A notice is not well formed (its text or answer, its time to answer, its subject).
        NoticeInvalid => "NOTICE_INVALID",
        // API tokens and roles
        /// No such role: `region-admin`, `department-operator`, `auditor` or `verifier`.
        RoleUnknown => "ROLE_UNKNOWN",
        /// A `department-operator` names its department; no other role does.
        RoleDepartmentMismatch => "ROLE_DEPARTMENT_MISMATCH",
        /// A token's name is empty, too long, padded or has a control character.
        TokenNameInvalid => "TOKEN_NAME_INVALID",
        /// A token's lifetime is not between one minute and 366 days.
        TokenExpiryInvalid => "TOKEN_EXPIRY_INVALID",
        /// No API token has this id.
        TokenUnknown => "TOKEN_UNKNOWN",
        /// The token presented is not one this hub made (or was mistyped).
        TokenInvalid => "TOKEN_INVALID",
        /// The token presented has expired.
        TokenExpired => "TOKEN_EXPIRED",
        /// The token presented was revoked.
        TokenRevoked => "TOKEN_REVOKED",
        /// The caller's role may not do this, or not for this department.
        Forbidden => "FORBIDDEN",
        /// An administrative endpoint was called with neither an API token nor a client certificate.
        AuthenticationRequired => "AUTHENTICATION_REQUIRED",
        /// The client certificate presented is not a department's current client certificate of this hub's CA.
        CertNotClient => "CERT_NOT_CLIENT",
        // HTTP
        /// The request's body is larger than the documented limit.
        PayloadTooLarge => "PAYLOAD_TOO_LARGE",
        /// The request's `Content-Type` is not one the endpoint takes.
        ContentTypeUnsupported => "CONTENT_TYPE_UNSUPPORTED",
        /// No endpoint at this path.
        RouteUnknown => "ROUTE_UNKNOWN",
        /// The endpoint does not take this method.
        MethodNotAllowed => "METHOD_NOT_ALLOWED",
        /// The hub cannot serve yet: its store or its QUIC listener is not ready (the reason
        /// says which).
        NotReady => "NOT_READY",
        /// The hub is shutting down and finishing what it accepted.
        Draining => "DRAINING",
        // Failures of this hub (not the caller's fault)
        /// Something failed inside the hub; its log has the detail.
        Internal => "INTERNAL",
        /// A file the hub reads or writes failed.
        Io => "IO",
        /// The operating system's random number generator failed.
        RngFailed => "RNG_FAILED",
        /// Building a certificate or CRL failed.
        CaError => "CA_ERROR",
    }
}

impl Code {
    /// Whether the code names a failure of this hub rather than a refusal
    /// of what was asked: its words stay in the log.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Code::Internal | Code::Io | Code::RngFailed | Code::CaError | Code::CaKeyDamaged
        )
    }
}

/// Why a service call failed. Nothing is half-written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused: bad input or a state that does not allow
    /// it; or, for a [failure](Code::is_failure) code, this hub failed.
    #[error("{message}")]
    Rejected {
        /// Stable code.
        code: Code,
        /// What was wrong, for people.
        message: String,
    },
    /// Issuance refused the request.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// A schema (its id, version or document) is not valid.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A schema is not a usable licence type.
    #[error(transparent)]
    LicenceType(#[from] TypeError),
    /// A key registration request is malformed, unproven or stale.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// The audit log does not hold together, so nothing was published.
    #[error("{0}; nothing was published (run `tongban audit verify --checkpoints`)")]
    AuditFault(LogFault),
    /// A published-checkpoints file is malformed.
    #[error("{path}: {source}")]
    Published {
        /// The file.
        path: String,
        /// What is wrong, and on which line.
        source: PublishedError,
    },
    /// One request of a batch was refused: its place (from 0) and why.
    #[error("request {index}: {source}")]
    InRequest {
        /// Its place in the batch, from 0.
        index: usize,
        /// Why it was refused.
        source: Box<Error>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key store failed.
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rejected { code, .. } => code.as_str(),
            Error::Issue(e) => e.code(),
            Error::Schema(e) => e.code(),
            Error::LicenceType(e) => e.code(),
            Error::Registration(e) => e.code(),
            Error::AuditFault(e) => e.code(),
            Error::Published { source, .. } => source.code(),
            Error::InRequest { source, .. } => source.code(),
            Error::Store(e) => e.code(),
            Error::KeyStore(e) => e.code(),
        }
    }

    /// The service's own code, when the error is one of its refusals.
    pub fn rejection(&self) -> Option<Code> {
        match self {
            Error::Rejected { code, .. } if !code.is_failure() => Some(*code),
            Error::InRequest { source, .. } => source.rejection(),
            _ => None,
        }
    }

    /// Whether what was asked was refused (its words may be told to whoever
    /// asked), as opposed to this hub failing: its store, its key store,
    /// something inside it (the words stay in the log).
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Rejected { code, .. } => !code.is_failure(),
            Error::Store(_) | Error::KeyStore(_) => false,
            Error::InRequest { source, .. } => source.is_refusal(),
            Error::Issue(_)
            | Error::Schema(_)
            | Error::LicenceType(_)
            | Error::Registration(_)
            | Error::AuditFault(_)
            | Error::Published { .. } => true,
        }
    }

    /// Whether the store itself failed (unavailable or damaged): the caller
    /// may retry later.
    pub fn is_storage_fault(&self) -> bool {
        matches!(self, Error::Store(e) if e.is_storage_fault())
    }

    /// What may be told outside this hub (a department, a peer, an HTTP
    /// client): a refusal's words; for this hub's own failure, `otherwise`
    /// (the detail belongs in the log, never to the party told).
    pub fn told<'a>(&self, otherwise: &'a str) -> Cow<'a, str> {
        if self.is_refusal() {
            Cow::Owned(self.to_string())
        } else {
            Cow::Borrowed(otherwise)
        }
    }

    pub(crate) fn rejected(code: Code, message: impl Into<String>) -> Self {
        Error::Rejected {
            code,
            message: message.into(),
        }
    }
}

/// The stable code of an error from any of the libraries a front end
/// (the CLI, the benchmarks) calls: the service, the store, the key store,
/// trust files, the licence issuer. `None` for anything else (the caller
/// names its own: `IO`, `MALFORMED_JSON`, …). One map, so that front ends
/// cannot drift apart.
pub fn code_of(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(e) = e.downcast_ref::<Error>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<KeyStoreError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<crate::kek::KekError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<IssueError>() {
        return Some(e.code());
    }
    if let Some(e) = e.downcast_ref::<tongban_licence::trustfile::TrustFileError>() {
        return Some(e.code());
    }
    None
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every library error a front end meets has its code in one map,
    /// wrapped or not (the CLI once lost `SIGNING_KEY_DAMAGED` this way).
    #[test]
    fn one_map_names_the_code_of_every_library_error() {
        let cases: Vec<(Box<dyn std::error::Error + Send + Sync>, &str)> = vec![
            (
                Box::new(KeyStoreError::Damaged("k".into())),
                "SIGNING_KEY_DAMAGED",
            ),
            (
                Box::new(KeyStoreError::Missing("k".into(), "d".into())),
                "SIGNING_KEY_NOT_ON_NODE",
            ),
            (
                Box::new(Error::KeyStore(KeyStoreError::Damaged("k".into()))),
                "SIGNING_KEY_DAMAGED",
            ),
            (
                Box::new(Error::rejected(Code::KeyUnknown, "no key")),
                "KEY_UNKNOWN",
            ),
            (
                Box::new(StoreError::Config("bad".into())),
                StoreError::Config("bad".into()).code(),
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(code_of(e.as_ref()), Some(expected), "{e}");
        }
        let io = std::io::Error::other("disk");
        assert_eq!(code_of(&io), None);
    }
}
