//! Application services of a region's hub over the store: departments,
//! signing keys, licence types, and the licence store (issue, verify,
//! status, find with licence-use records, export for offline verifiers).
//!
//! This is where IO meets the sans-IO core: the service reads the clock,
//! the database, the blob store and the key store, and hands values to
//! `tongban-licence` and `tongban-seal`.
#![forbid(unsafe_code)]

mod access;
mod admin;
pub mod alerts;
mod audit;
pub mod ca;
mod calendar;
mod cases;
mod catalogue;
mod error;
mod exchange;
mod hotline;
mod import;
pub mod kek;
mod keys;
pub mod keystore;
mod licences;
mod order_exchange;
mod order_notices;
mod order_routes;
mod peers;
mod public;
pub mod samples;
mod schemas;
mod secrets;
mod supervision;
mod text;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use time::OffsetDateTime;
use tongban_licence::LicenceTypes;
use tongban_store::{Store, StoreConfig};

/// Owner name of the hub's own keys.
pub(crate) const HUB_OWNER: &str = "hub";

pub use access::{AccessBasis, AccessRules, Refusal};
pub use admin::{HubIdentity, NewDepartment, key_record};
pub use audit::{
    AuditPin, AuditProblem, AuditReport, AuditVerifyOptions, CHECKPOINT_INTERVAL,
    MAX_CHECKPOINT_INTERVAL, PublishOutcome, for_each_line, read_published,
};
pub use calendar::CalendarEntry;
pub use cases::{
    CaseLicences, CaseQuery, ITEM_TYPES, ItemDraft, Material, MaterialResult, MaterialState,
    ServiceItem, item_type,
};
pub use catalogue::{CatalogueDraft, SHARING_TYPES, sharing_type};
pub use error::{Code, Error, Result, code_of};
pub use hotline::{NewOrder, OrderLine, OrderReport};
pub use import::{
    ImportOutcome, ImportRefusal, MAX_IMPORT_EVENTS, MAX_IMPORT_ORDERS, OrderImport, StepImport,
};
pub use keystore::{KeyStore, KeyStoreError, SealedStatus};
pub use licences::{
    AttachmentInput, Export, Found, IssueInput, LicenceActivity, MAX_USE_CAUSE_CHARS, OnlineVerify,
    Query,
};
pub use order_exchange::{OrderStanding, OrderStepInput, parse_category};
pub use order_notices::{HOTLINE_TOPIC, ORDER_NOTICE_SCHEMA};
pub use order_routes::{MAX_ORDER_ROUTES, MAX_ROUTE_AREA_CHARS, NewRoute};
pub use peers::{MAX_PEER_RESOURCES, PeerCard, PeerResource, PeerTrust, anchor_record};
pub use public::{CheckedStatus, LicenceCheck};
pub use schemas::{KINDS as SCHEMA_KINDS, Published};
pub use supervision::{CHANNELS, CaseEventInput, CaseSupervision, ReportLine, SupervisionReport};
pub use tokens::{Action, NewToken, Principal, Role};

/// Where time comes from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A settable instant (tests and demos that travel in time).
    Fixed(Arc<Mutex<OffsetDateTime>>),
}

impl Clock {
    /// A fixed clock at `t`.
    pub fn fixed(t: OffsetDateTime) -> Self {
        Clock::Fixed(Arc::new(Mutex::new(t)))
    }

    /// The current instant.
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves a fixed clock; no effect on the system clock.
    pub fn set(&self, to: OffsetDateTime) {
        if let Clock::Fixed(t) = self {
            *t.lock().unwrap_or_else(|p| p.into_inner()) = to;
        }
    }
}

/// Everything needed to open a hub's services.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The store.
    pub store: StoreConfig,
    /// Directory of this node's secret keys (when they are not sealed in
    /// the database).
    pub keystore: PathBuf,
    /// The key-encryption keys: secrets are then sealed in the database,
    /// for every node, instead of kept as files in `keystore`.
    pub kek: Option<KekSource>,
    /// The clock.
    pub clock: Clock,
}

impl ServiceConfig {
    /// The embedded default under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        ServiceConfig {
            store: StoreConfig::embedded(data_dir),
            keystore: data_dir.join("keys"),
            kek: None,
            clock: Clock::System,
        }
    }
}

/// Where a node reads its key-encryption keys from.
#[derive(Clone)]
pub enum KekSource {
    /// A file, owner-only (`TONGBAN_KEK_FILE`).
    File(PathBuf),
    /// The text of such a file (`TONGBAN_KEK`).
    Text(Arc<zeroize::Zeroizing<String>>),
}

impl std::fmt::Debug for KekSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KekSource::File(p) => write!(f, "File({})", p.display()),
            KekSource::Text(_) => f.write_str("Text(..)"),
        }
    }
}

impl KekSource {
    /// Reads the KEKs.
    pub fn load(&self) -> std::result::Result<kek::Keks, KeyStoreError> {
        match self {
            KekSource::File(path) => Ok(kek::Keks::load(path)?),
            KekSource::Text(text) => Ok(kek::Keks::parse(text)?),
        }
    }
}

/// A region's hub: the store plus the node's keys.
#[derive(Debug, Clone)]
pub struct Service {
    store: Store,
    keys: KeyStore,
    clock: Clock,
    types: Arc<RwLock<Arc<LicenceTypes>>>,
    operator: String,
    /// Whether an operator was named ([`Service::with_operator`]): actions
    /// whose actor is a department (a licence's issue) then say who asked.
    operator_named: bool,
    /// Woken when something was put in the outbox (the hub's drainer
    /// waits on it between its rounds).
    outbox: Arc<tokio::sync::Notify>,
}

impl Service {
    /// Opens the store and key store.
    pub async fn open(config: &ServiceConfig) -> Result<Self> {
        let store = Store::open(&config.store).await?;
        let keys = match &config.kek {
            None => KeyStore::open(&config.keystore)?,
            Some(source) => KeyStore::sealed(store.clone(), source.load()?),
        };
        let hub = Service {
            store,
            keys,
            clock: config.clock.clone(),
            types: Arc::new(RwLock::new(Arc::new(LicenceTypes::new()))),
            operator: "admin".to_owned(),
            operator_named: false,
            outbox: Arc::new(tokio::sync::Notify::new()),
        };
        hub.reload_licence_types().await?;
        Ok(hub)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock's current instant.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The same hub acting for another operator (recorded in the audit log).
    pub fn with_operator(mut self, operator: &str) -> Self {
        self.operator = operator.to_owned();
        self.operator_named = true;
        self
    }

    /// The operator, when one was named: who asked for an action recorded
    /// under a department's name.
    pub(crate) fn named_operator(&self) -> Option<&str> {
        self.operator_named.then_some(self.operator.as_str())
    }

    /// `detail` with `by`, the operator who asked, when one was named: for
    /// an action recorded under a department's name.
    pub(crate) fn asked_by(&self, mut detail: serde_json::Value) -> serde_json::Value {
        if let Some(by) = self.named_operator() {
            detail["by"] = serde_json::json!(by);
        }
        detail
    }

    /// Who administrative actions are recorded as.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    pub(crate) fn audit(
        &self,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> tongban_store::AuditRecord {
        tongban_store::AuditRecord::new(self.now(), &self.operator, action, subject, detail)
    }

    /// Tells the hub's drainer that the outbox has something.
    pub(crate) fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// Resolves when something was put in the outbox through this node
    /// since the last wait (other nodes' rows are found by the drainer's
    /// own rounds).
    pub async fn outbox_woken(&self) {
        self.outbox.notified().await;
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }
}
