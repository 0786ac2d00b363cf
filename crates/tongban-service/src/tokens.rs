//! Who may do what on the hub's HTTP side: API tokens (made, listed,
//! revoked, presented), the roles they carry, and the one rule that says
//! which role may take which action, for which department.
//!
//! A token is `tbk_{id}_{secret}`: the id (`tok_` and 16 hex digits) names
//! its row, the secret (32 random bytes, 64 hex digits) is shown once when the
//! token is made and kept only as its SHA-256. The secret is high-entropy,
//! so one hash suffices (no password stretching), and hashes are compared
//! in constant time.

use serde::Serialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use time::Duration;
use tongban_store::TokenRow;

use crate::error::{Code, Error, Result};
use crate::{Service, text};

/// Longest a token lives.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::days(366);
/// Shortest a token lives.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::minutes(1);
/// Longest a token's name.
pub const MAX_TOKEN_NAME_CHARS: usize = 200;
/// What every token starts with.
pub const TOKEN_PREFIX: &str = "tbk_";

/// What a caller of the HTTP side is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The region's administrator: every action.
    RegionAdmin,
    /// Acts for one department only: its licences, catalogue entries,
    /// access decisions for its resources, its service items and cases.
    DepartmentOperator,
    /// Reads the audit log and statistics; changes nothing.
    Auditor,
    /// Verifies licences, nothing else.
    Verifier,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::RegionAdmin,
        Role::DepartmentOperator,
        Role::Auditor,
        Role::Verifier,
    ];

    /// The role's name, as tokens store it and the CLI takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::RegionAdmin => "region-admin",
            Role::DepartmentOperator => "department-operator",
            Role::Auditor => "auditor",
            Role::Verifier => "verifier",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                Error::rejected(
                    Code::RoleUnknown,
                    format!(
                        "no role {name:?}: region-admin, department-operator, auditor or verifier"
                    ),
                )
            })
    }
}

/// What a caller asks to do; each endpoint of the HTTP side is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Verify a licence (public too).
    Verify,
    /// Read departments and their keys.
    DepartmentsRead,
    /// Register, suspend, reinstate or retire departments; make and revoke keys.
    DepartmentsWrite,
    /// Issue or revoke certificates from the region's CA.
    CaWrite,
    /// Read certificates and the CRL.
    CaRead,
    /// Read schemas and licence types.
    SchemasRead,
    /// Publish schemas and licence types.
    SchemasWrite,
    /// Read and search the catalogue.
    CatalogueRead,
    /// Publish or retire catalogue entries (a department's own).
    CatalogueWrite,
    /// Read access applications (a department's own, or on its resources).
    AccessRead,
    /// Apply for access (for a department's own use).
    AccessApply,
    /// Decide applications on a department's resources.
    AccessDecide,
    /// Read service items.
    ItemsRead,
    /// Register or retire service items (a department's own).
    ItemsWrite,
    /// Read cases (a department's own).
    CasesRead,
    /// Issue licences (a department's own, as issuer).
    LicencesIssue,
    /// Read licences and their use records (a department's own).
    LicencesRead,
    /// Suspend, reinstate or revoke licences (a department's own).
    LicencesStatus,
    /// Verify the audit log, browse and export it.
    AuditRead,
    /// Write an audit checkpoint.
    AuditWrite,
    /// Read the exchange statistics.
    StatisticsRead,
    /// Read, add or remove peer regions.
    PeersWrite,
    /// Make, list and revoke API tokens.
    TokensWrite,
    /// Read the working-day calendar and deadlines over it.
    CalendarRead,
    /// Load a year of the working-day calendar.
    CalendarWrite,
    /// Read 12345 work orders (the office's, or those dispatched to a unit).
    OrdersRead,
    /// Create 12345 work orders and take their steps (as the office or a unit).
    OrdersWrite,
    /// Name the supervising office, set the warning threshold, run a
    /// supervision sweep.
    SupervisionWrite,
    /// Read supervision's pushes and notices (督办): a department's own
    /// (the supervising office's are all of them).
    NoticesRead,
    /// Issue notices (as the supervising office) and answer them (as the
    /// unit asked).
    NoticesWrite,
    /// Set and remove the 12345 routing rules (the hotline office's).
    RoutesWrite,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 31] = [
        Action::Verify,
        Action::DepartmentsRead,
        Action::DepartmentsWrite,
        Action::CaWrite,
        Action::CaRead,
        Action::SchemasRead,
        Action::SchemasWrite,
        Action::CatalogueRead,
        Action::CatalogueWrite,
        Action::AccessRead,
        Action::AccessApply,
        Action::AccessDecide,
        Action::ItemsRead,
        Action::ItemsWrite,
        Action::CasesRead,
        Action::LicencesIssue,
        Action::LicencesRead,
        Action::LicencesStatus,
        Action::AuditRead,
        Action::AuditWrite,
        Action::StatisticsRead,
        Action::PeersWrite,
        Action::TokensWrite,
        Action::CalendarRead,
        Action::CalendarWrite,
        Action::OrdersRead,
        Action::OrdersWrite,
        Action::SupervisionWrite,
        Action::NoticesRead,
        Action::NoticesWrite,
        Action::RoutesWrite,
    ];
}

/// How far a role may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Not at all.
    None,
    /// For its own department only.
    OwnDepartment,
    /// For anyone.
    Any,
}

/// The one rule of who may do what.
pub fn reach(role: Role, action: Action) -> Reach {
    use Action as A;
    match (role, action) {
        (Role::RegionAdmin, _) => Reach::Any,
        (_, A::Verify) => Reach::Any,
        (
            Role::DepartmentOperator,
            A::SchemasRead | A::CatalogueRead | A::ItemsRead | A::DepartmentsRead | A::CalendarRead,
        ) => Reach::Any,
        (
            Role::DepartmentOperator,
            A::CatalogueWrite
            | A::AccessRead
            | A::AccessApply
            | A::AccessDecide
            | A::ItemsWrite
            | A::CasesRead
            | A::LicencesIssue
            | A::LicencesRead
            | A::LicencesStatus
            | A::OrdersRead
            | A::OrdersWrite
            | A::NoticesRead
            | A::NoticesWrite
            | A::RoutesWrite,
        ) => Reach::OwnDepartment,
        (Role::Auditor, A::AuditRead | A::StatisticsRead | A::CalendarRead | A::NoticesRead) => {
            Reach::Any
        }
        _ => Reach::None,
    }
}

/// Who is calling, once authenticated: by an API token or by a client
/// certificate of the region's CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// `token:tok_…` or `cert:{subject}`: what the audit log records.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The department it acts for (department operators).
    pub department: Option<String>,
}

impl Principal {
    /// Whether it may take `action`, for `department` when the action is
    /// about one (`None`: about no department in particular, e.g. a list,
    /// which the caller then narrows to [`Principal::department`]).
    /// `FORBIDDEN` says what it may not do.
    pub fn authorise(&self, action: Action, department: Option<&str>) -> Result<()> {
        let allowed = match reach(self.role, action) {
            Reach::Any => true,
            Reach::OwnDepartment => match department {
                Some(d) => self.department.as_deref() == Some(d),
                None => self.department.is_some(),
            },
            Reach::None => false,
        };
        if allowed {
            return Ok(());
        }
        let whom = department.map(|d| format!(" for {d}")).unwrap_or_default();
        Err(Error::rejected(
            Code::Forbidden,
            format!(
                "{} ({}) may not {}{whom}",
                self.name,
                self.role.as_str(),
                serde_json::to_value(action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ))
    }

    /// The hub acting as this principal: every audit entry names it.
    pub fn acting(&self, hub: &Service) -> Service {
        hub.clone().with_operator(&self.name)
    }
}

/// A token just made: its row and the token itself, shown once.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// As stored.
    pub row: TokenRow,
    /// `tbk_{id}_{secret}`: give it to whoever will call; it is not kept.
    pub token: String,
}

impl Service {
    /// Makes an API token of `role` (a department operator's for
    /// `department`), valid for `lifetime`; audited (`token.create`). The
    /// token is returned once and never stored.
    pub async fn token_create(
        &self,
        name: &str,
        role: Role,
        department: Option<&str>,
        lifetime: Duration,
    ) -> Result<NewToken> {
        text::name(
            Code::TokenNameInvalid,
            "token name",
            name,
            MAX_TOKEN_NAME_CHARS,
        )?;
        if (role == Role::DepartmentOperator) != department.is_some() {
            return Err(Error::rejected(
                Code::RoleDepartmentMismatch,
                "a department-operator token names its department (--dept); no other role does",
            ));
        }
        if let Some(d) = department {
            self.store.department(d).await?.ok_or_else(|| {
                Error::rejected(Code::DepartmentUnknown, format!("no department {d}"))
            })?;
        }
        if !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&lifetime) {
            return Err(Error::rejected(
                Code::TokenExpiryInvalid,
                "a token lives between one minute and 366 days",
            ));
        }
        let mut id_bytes = [0u8; 8];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id_bytes)
            .and_then(|()| getrandom::fill(&mut secret))
            .map_err(|e| Error::rejected(Code::RngFailed, e.to_string()))?;
        let id = format!("tok_{}", tongban_seal::archive::hex(&id_bytes));
        let secret_text = tongban_seal::archive::hex(&secret);
        zeroize::Zeroize::zeroize(&mut secret);
        let now = self.now();
        let row = TokenRow {
            id: id.clone(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            department: department.map(str::to_owned),
            secret_sha256: tongban_store::sha256_hex(secret_text.as_bytes()),
            created_at: now,
            created_by: self.operator().to_owned(),
            expires_at: now + lifetime,
            revoked_at: None,
        };
        let audit = [self.audit(
            "token.create",
            &id,
            json!({
                "name": name,
                "role": role.as_str(),
                "department": department,
                "expiresAt": tongban_seal::timefmt::format_rfc3339(row.expires_at),
            }),
        )];
        if !self.store.add_token(&row, &audit).await? {
            return Err(Error::rejected(
                Code::Internal,
                "a token id was drawn twice",
            ));
        }
        self.maybe_checkpoint().await?;
        Ok(NewToken {
            row,
            token: format!("{TOKEN_PREFIX}{id}_{secret_text}"),
        })
    }

    /// Every token, revoked and expired ones too, newest first.
    pub async fn token_list(&self) -> Result<Vec<TokenRow>> {
        Ok(self.store.tokens().await?)
    }

    /// Revokes a token: from now on it is refused (`TOKEN_REVOKED`);
    /// audited (`token.revoke`).
    pub async fn token_revoke(&self, id: &str) -> Result<TokenRow> {
        let audit = [self.audit("token.revoke", id, json!({}))];
        if !self.store.revoke_token(id, self.now(), &audit).await? {
            return Err(Error::rejected(
                Code::TokenUnknown,
                format!("no token {id} that is not revoked already"),
            ));
        }
        self.maybe_checkpoint().await?;
        self.store
            .token(id)
            .await?
            .ok_or_else(|| Error::rejected(Code::TokenUnknown, id.to_owned()))
    }

    /// Who presents `token`: refused `TOKEN_INVALID` (not one of this
    /// hub's, or mistyped), `TOKEN_EXPIRED` or `TOKEN_REVOKED`.
    pub async fn token_authenticate(&self, token: &str) -> Result<Principal> {
        let invalid = || Error::rejected(Code::TokenInvalid, "not a token of this hub");
        // `tbk_`, the id (`tok_` and 16 hex digits), `_`, 64 hex digits.
        let (id, secret) = token
            .strip_prefix(TOKEN_PREFIX)
            .filter(|t| t.starts_with("tok_"))
            .and_then(|t| t.split_at_checked(20))
            .and_then(|(id, rest)| Some((id, rest.strip_prefix('_')?)))
            .filter(|(_, secret)| secret.len() == 64)
            .ok_or_else(invalid)?;
        let row = self.store.token(id).await?.ok_or_else(invalid)?;
        let presented = tongban_store::sha256_hex(secret.as_bytes());
        if !bool::from(presented.as_bytes().ct_eq(row.secret_sha256.as_bytes())) {
            return Err(invalid());
        }
        if row.revoked_at.is_some() {
            return Err(Error::rejected(
                Code::TokenRevoked,
                format!("token {id} was revoked"),
            ));
        }
        if self.now() >= row.expires_at {
            return Err(Error::rejected(
                Code::TokenExpired,
                format!("token {id} has expired"),
            ));
        }
        Ok(Principal {
            name: format!("token:{id}"),
            role: Role::parse(&row.role)?,
            department: row.department,
        })
    }
}

impl Service {
    /// Who presents the client certificate `der` (its chain to this
    /// region's CA checked by TLS): a department's current client
    /// certificate, as this hub's CA issued and stored it, makes an operator
    /// of that department, named `cert:{serial}` in the audit log. Refused:
    /// `CERT_NOT_CLIENT` (not one of the CA's department certificates),
    /// `CERT_REVOKED`, and the department's own state
    /// (`DEPARTMENT_SUSPENDED`, `DEPARTMENT_RETIRED`). Revocation is read
    /// from the store at each request, so it takes effect at once.
    pub async fn certificate_authenticate(&self, der: &[u8]) -> Result<Principal> {
        let not_client = || {
            Error::rejected(
                Code::CertNotClient,
                "not a department's client certificate of this hub's CA",
            )
        };
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| not_client())?;
        let serial: String = cert
            .tbs_certificate
            .raw_serial()
            .iter()
            .skip_while(|b| **b == 0)
            .map(|b| format!("{b:02x}"))
            .collect();
        let row = self
            .store
            .certificate(&serial)
            .await?
            .ok_or_else(not_client)?;
        let stored = x509_parser::pem::parse_x509_pem(row.pem.as_bytes())
            .map(|(_, pem)| pem.contents)
            .map_err(|_| not_client())?;
        if row.kind != "client" || stored != der {
            return Err(not_client());
        }
        if row.revoked_at.is_some() {
            return Err(Error::rejected(
                Code::CertRevoked,
                format!("certificate {serial} was revoked"),
            ));
        }
        if !Self::certificate_current(&row, self.now()) {
            return Err(not_client());
        }
        let department = self.active_department(&row.subject).await?;
        Ok(Principal {
            name: format!("cert:{serial}"),
            role: Role::DepartmentOperator,
            department: Some(department.code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(dept: &str) -> Principal {
        Principal {
            name: "token:tok_0000000000000000".into(),
            role: Role::DepartmentOperator,
            department: Some(dept.into()),
        }
    }

    #[test]
    fn roles_read_back_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert_eq!(Role::parse("admin").unwrap_err().code(), "ROLE_UNKNOWN");
    }

    #[test]
    fn an_operator_acts_for_its_own_department_only() {
        let op = operator("D1");
        op.authorise(Action::LicencesIssue, Some("D1")).unwrap();
        let e = op.authorise(Action::LicencesIssue, Some("D2")).unwrap_err();
        assert_eq!(e.code(), "FORBIDDEN");
        assert!(e.to_string().contains("licences-issue for D2"), "{e}");
        op.authorise(Action::CatalogueRead, Some("D2")).unwrap();
        assert_eq!(
            op.authorise(Action::AuditRead, None).unwrap_err().code(),
            "FORBIDDEN"
        );
    }

    #[test]
    fn the_rule_of_who_may_do_what() {
        // Each role's reach over every action, written out: a change to
        // `reach` must change this table too.
        use Reach::{Any, None as No, OwnDepartment as Own};
        let expected: [(Action, [Reach; 4]); 31] = [
            //                       admin operator auditor verifier
            (Action::Verify, [Any, Any, Any, Any]),
            (Action::DepartmentsRead, [Any, Any, No, No]),
            (Action::DepartmentsWrite, [Any, No, No, No]),
            (Action::CaWrite, [Any, No, No, No]),
            (Action::CaRead, [Any, No, No, No]),
            (Action::SchemasRead, [Any, Any, No, No]),
            (Action::SchemasWrite, [Any, No, No, No]),
            (Action::CatalogueRead, [Any, Any, No, No]),
            (Action::CatalogueWrite, [Any, Own, No, No]),
            (Action::AccessRead, [Any, Own, No, No]),
            (Action::AccessApply, [Any, Own, No, No]),
            (Action::AccessDecide, [Any, Own, No, No]),
            (Action::ItemsRead, [Any, Any, No, No]),
            (Action::ItemsWrite, [Any, Own, No, No]),
            (Action::CasesRead, [Any, Own, No, No]),
            (Action::LicencesIssue, [Any, Own, No, No]),
            (Action::LicencesRead, [Any, Own, No, No]),
            (Action::LicencesStatus, [Any, Own, No, No]),
            (Action::AuditRead, [Any, No, Any, No]),
            (Action::AuditWrite, [Any, No, No, No]),
            (Action::StatisticsRead, [Any, No, Any, No]),
            (Action::PeersWrite, [Any, No, No, No]),
            (Action::TokensWrite, [Any, No, No, No]),
            (Action::CalendarRead, [Any, Any, Any, No]),
            (Action::CalendarWrite, [Any, No, No, No]),
            (Action::OrdersRead, [Any, Own, No, No]),
            (Action::OrdersWrite, [Any, Own, No, No]),
            (Action::SupervisionWrite, [Any, No, No, No]),
            (Action::NoticesRead, [Any, Own, Any, No]),
            (Action::NoticesWrite, [Any, Own, No, No]),
            (Action::RoutesWrite, [Any, Own, No, No]),
        ];
        assert_eq!(
            expected.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            Action::ALL.to_vec()
        );
        for (action, reaches) in expected {
            for (role, want) in Role::ALL.into_iter().zip(reaches) {
                assert_eq!(reach(role, action), want, "{role:?} {action:?}");
            }
        }
    }
}
