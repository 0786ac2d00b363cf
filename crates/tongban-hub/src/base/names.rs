//! What the hub's resource names mean, for every layer that routes on
//! them: the hub's own services, another region's resources
//! (`{region}:{id}`), and the resource an envelope names before it is
//! parsed. Plain data and string functions; no state.

use tongban_proto::services::{
    CaseEvent, CaseLicenceQuery, CaseResult, HubRequest, NoticeAnswer, OrderNew, OrderStep,
    RegionLicenceQuery,
};

/// The resource a department asks for licences across regions on.
pub(crate) const REGION_LICENCES: &str = RegionLicenceQuery::RESOURCE;

/// One of the hub's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HubService {
    /// Its resource id.
    pub resource: &'static str,
    /// The schema requests carry.
    pub request_schema: &'static str,
    /// The schema of the hub's answer.
    pub answer_schema: &'static str,
    /// It returns a holder's licences: bound to a case of the asking
    /// department's own item, and counted against its licence reads.
    pub reads_licences: bool,
}

/// Every hub service.
pub(crate) const SERVICES: &[HubService] = &[
    HubService {
        resource: CaseLicenceQuery::RESOURCE,
        request_schema: CaseLicenceQuery::SCHEMA,
        answer_schema: CaseLicenceQuery::ANSWER_SCHEMA,
        reads_licences: true,
    },
    HubService {
        resource: CaseResult::RESOURCE,
        request_schema: CaseResult::SCHEMA,
        answer_schema: CaseResult::ANSWER_SCHEMA,
        reads_licences: false,
    },
    HubService {
        resource: RegionLicenceQuery::RESOURCE,
        request_schema: RegionLicenceQuery::SCHEMA,
        answer_schema: RegionLicenceQuery::ANSWER_SCHEMA,
        reads_licences: true,
    },
    HubService {
        resource: CaseEvent::RESOURCE,
        request_schema: CaseEvent::SCHEMA,
        answer_schema: CaseEvent::ANSWER_SCHEMA,
        reads_licences: false,
    },
    HubService {
        resource: NoticeAnswer::RESOURCE,
        request_schema: NoticeAnswer::SCHEMA,
        answer_schema: NoticeAnswer::ANSWER_SCHEMA,
        reads_licences: false,
    },
    HubService {
        resource: OrderNew::RESOURCE,
        request_schema: OrderNew::SCHEMA,
        answer_schema: OrderNew::ANSWER_SCHEMA,
        reads_licences: false,
    },
    HubService {
        resource: OrderStep::RESOURCE,
        request_schema: OrderStep::SCHEMA,
        answer_schema: OrderStep::ANSWER_SCHEMA,
        reads_licences: false,
    },
];

/// The service a resource id names, if it is one of the hub's.
pub(crate) fn by_resource(resource: &str) -> Option<&'static HubService> {
    SERVICES.iter().find(|s| s.resource == resource)
}

/// `(region, id)` when `resource` names a peer region's resource
/// (`{six digits}:{id}`).
pub(crate) fn split(resource: &str) -> Option<(&str, &str)> {
    let (region, id) = resource.split_once(':')?;
    (region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty())
        .then_some((region, id))
}

/// The catalogue id in a resource name: `{region}:{id}` → `id`.
pub(crate) fn local_id(resource: &str) -> &str {
    split(resource).map_or(resource, |(_, id)| id)
}

/// The resource an envelope names, kept short: [`Refusals::count`] keeps
/// it only if the hub knows it, so this only bounds what a job carries.
pub(crate) fn resource_of(envelope: &serde_json::Value) -> String {
    envelope
        .get("resource")
        .and_then(serde_json::Value::as_str)
        .filter(|r| r.len() <= 100)
        .unwrap_or_default()
        .to_owned()
}
