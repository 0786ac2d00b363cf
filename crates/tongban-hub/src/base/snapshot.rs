//! What the server checks messages against, read from the store and kept
//! fresh: signing keys, departments, the catalogue's access rules, compiled
//! message schemas.
//!
//! Refreshed every few seconds (so that a revocation or suspension made with
//! the CLI takes effect without a restart) and on demand when a lookup
//! misses, at most once a second.
//!
//! Every `ServeConfig::refresh_every` (2 s by default) the snapshot re-reads
//! keys, departments, revoked certificates and compiled schemas; the
//! catalogue's access rules (`AccessRules`: resources and approved grants)
//! are reloaded only when the store's access generation moved, so that an
//! approval, withdrawal or retirement reaches every node within one tick
//! without reloading the catalogue each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tongban_seal::KeyRecord;
use tongban_service::{AccessRules, Service};
use tongban_store::DepartmentStatus;

/// One consistent view of the registry.
#[derive(Default)]
pub struct View {
    /// Keys by id (Multikey).
    pub keys: HashMap<String, KeyRecord>,
    /// Department statuses.
    pub departments: HashMap<String, DepartmentStatus>,
    /// Catalogue resources and approved grants (reloaded only when the
    /// store's access generation moved).
    pub access: Arc<AccessRules>,
    /// The access generation `access` was read at.
    access_generation: i64,
    /// Message schema validators by `id@version`.
    pub validators: HashMap<String, Arc<jsonschema::Validator>>,
    /// Serial numbers (lower-case hex) of revoked certificates.
    pub revoked_serials: std::collections::HashSet<String>,
}

/// The shared, refreshable view.
pub struct Snapshot {
    hub: Service,
    view: RwLock<Arc<View>>,
    last_forced: Mutex<Instant>,
}

impl Snapshot {
    /// Loads the first view.
    pub async fn load(hub: Service) -> Result<Arc<Self>, tongban_service::Error> {
        let view = build(&hub, None).await?;
        Ok(Arc::new(Snapshot {
            hub,
            view: RwLock::new(Arc::new(view)),
            last_forced: Mutex::new(Instant::now() - Duration::from_secs(10)),
        }))
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        self.view
            .read()
            .map(|v| Arc::clone(&v))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Rebuilds the view from the store.
    pub async fn refresh(&self) -> Result<(), tongban_service::Error> {
        let previous = self.view();
        let view = build(&self.hub, Some(&previous)).await?;
        let mut slot = self.view.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(view);
        Ok(())
    }

    /// The current view, first rebuilt if the store's access generation
    /// moved past the one it was read at: what a refusal by the access
    /// rule is decided on, so that a node whose view is a tick old does
    /// not withhold what another node's newer view admitted.
    pub async fn with_current_access(&self) -> Arc<View> {
        let view = self.view();
        match self.hub.store().access_generation().await {
            Ok(g) if g == view.access_generation => view,
            Ok(_) => match self.refresh().await {
                Ok(()) => self.view(),
                Err(e) => {
                    tracing::warn!(error = %e, "refreshing the registry failed");
                    view
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "reading the access generation failed");
                view
            }
        }
    }

    /// Refreshes after a miss, at most once a second.
    pub async fn refresh_on_miss(&self) {
        let due = {
            let mut last = self.last_forced.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= Duration::from_secs(1) {
                *last = Instant::now();
                true
            } else {
                false
            }
        };
        if due {
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "refreshing the registry failed");
            }
        }
    }
}

async fn build(hub: &Service, previous: Option<&View>) -> Result<View, tongban_service::Error> {
    let store = hub.store();
    let mut view = View::default();
    // Read the generation first: a change racing the load is seen next time.
    let generation = store.access_generation().await?;
    match previous {
        Some(p) if p.access_generation == generation => view.access = Arc::clone(&p.access),
        _ => view.access = Arc::new(hub.access_rules().await?),
    }
    view.access_generation = generation;
    for row in store.all_keys().await? {
        // A row that does not decode is skipped: envelopes naming it get
        // KEY_UNKNOWN rather than the whole view failing.
        if let Ok(record) = tongban_service::key_record(&row) {
            view.keys.insert(row.key_id, record);
        }
    }
    for d in store.departments().await? {
        view.departments.insert(d.code, d.status);
    }
    for c in store.certificates(None).await? {
        if c.revoked_at.is_some() {
            view.revoked_serials.insert(c.serial.to_ascii_lowercase());
        }
    }
    for s in store.schemas(Some("message")).await? {
        let Ok(doc) = serde_json::from_str::<Value>(&s.content) else {
            continue;
        };
        match jsonschema::options()
            .should_validate_formats(true)
            .build(&doc)
        {
            Ok(v) => {
                view.validators
                    .insert(format!("{}@{}", s.id, s.version), Arc::new(v));
            }
            Err(e) => {
                tracing::warn!(schema = %s.id, error = %e, "a registered schema does not compile")
            }
        }
    }
    Ok(view)
}
