//! Refused exchanges, counted in memory and added to the store's statistics
//! every second (one transaction however many there were).
//!
//! What is counted: envelopes refused by the pipeline, `records` queries and
//! service refusals, by department, resource and code. The server flushes them
//! with the audit checkpoint check and once more at shutdown; a flush the store
//! refuses keeps its counts for the next one, so a `kill -9` loses at most a
//! second of them. Beyond 10,000 distinct keys between flushes, refusals are
//! counted without their resource; a resource or department the hub does not
//! know is counted as none, since peers choose those names.

use std::collections::HashMap;
use std::sync::Mutex;

use tongban_proto::ErrorCode;
use tongban_store::RefusalCount;

use crate::Shared;

/// Most distinct (department, resource, code) keys held between flushes;
/// beyond it, refusals are counted without their resource.
const MAX_KEYS: usize = 10_000;

/// Counts by (department, resource, code).
#[derive(Default)]
pub(crate) struct Refusals {
    counts: Mutex<HashMap<(String, String, ErrorCode), u64>>,
}

impl Refusals {
    /// Counts one refusal. The resource is kept only if it is in the
    /// catalogue or one of the hub's services (peers choose the names), and
    /// the department only if it is registered.
    pub(crate) fn count(&self, shared: &Shared, department: &str, resource: &str, code: ErrorCode) {
        shared.config.metrics.refused(code.as_str());
        let view = shared.snapshot.view();
        let known = view.access.resource(resource).is_some()
            || crate::base::names::by_resource(resource).is_some();
        let department = if view.departments.contains_key(department) {
            department
        } else {
            ""
        };
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let resource = if counts.len() >= MAX_KEYS || !known {
            ""
        } else {
            resource
        };
        *counts
            .entry((department.to_owned(), resource.to_owned(), code))
            .or_default() += 1;
    }

    /// Adds what was counted to the store; on failure the counts are kept
    /// for the next flush.
    pub(crate) async fn flush(&self, hub: &tongban_service::Service) {
        let taken = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return;
        }
        let day = hub.now().date().to_string();
        let rows: Vec<RefusalCount> = taken
            .iter()
            .map(|((department, resource, code), n)| RefusalCount {
                day: day.clone(),
                department: department.clone(),
                resource: resource.clone(),
                code: code.as_str().to_owned(),
                count: *n,
            })
            .collect();
        if let Err(e) = hub.store().add_refusals(&rows).await {
            tracing::warn!(error = %e, "counting refusals failed; keeping them for the next try");
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            for (k, n) in taken {
                *counts.entry(k).or_default() += n;
            }
        }
    }
}
