//! Admission: the exchange's decisions about one envelope, in the order of
//! docs/PROTOCOL.md §4.4, as plain code. Each step takes the registry
//! snapshot ([`View`]), what it needs of the hub's live state ([`Live`]:
//! who listens, open requests, quotas) and `now`, and returns the first
//! refusal or what the next step needs; nothing here waits, reads the store
//! or touches a stream. The pipeline (`exchange::pipeline`) runs these
//! around its batched signature check and its commit; the tables in this
//! module's tests pin every code they give.
//!
//! Step 1 (shape) is `tongban_proto::envelope::parse`, step 2 (payload by
//! reference) `exchange::reference`, steps 8–9 (the key may sign, the
//! signature) `tongban_proto::envelope::verify_batch`.

use time::OffsetDateTime;
use tongban_proto::envelope::Parsed;
use tongban_proto::{ErrorCode, Header, Kind, ProtoError, Verified};
use tongban_seal::KeyRecord;
use tongban_store::{Accepted, DepartmentStatus, ExchangeResource};

use crate::base::checks::{refusal, validate};
use crate::base::names::{self, HubService};
use crate::base::snapshot::View;
use crate::exchange::reference::Checked;

/// What admission asks of the hub's live state, apart from the registry
/// snapshot: the server answers from its listener registry and its
/// counts, the tests from tables.
pub(crate) trait Live {
    /// Whether a response answers an open request: of its recipient, with
    /// the id in its `correlationId`, to its sender on its resource
    /// (`RESPONSE_UNEXPECTED` otherwise).
    fn check_answer(&self, response: &Header) -> Result<(), ProtoError>;
    /// Whether `provider` has a listen stream open.
    fn is_listening(&self, provider: &str) -> bool;
    /// Whether `requester` may have one more request waiting on `provider`
    /// (`BUSY` otherwise).
    fn check_room(&self, requester: &str, provider: &str) -> Result<(), ProtoError>;
    /// Whether `sender` is within its quota of undelivered deliveries
    /// (`QUOTA_EXCEEDED` otherwise).
    fn check_pending(&self, sender: &str) -> Result<(), ProtoError>;
}

/// Steps 3–7, before the signature: the kind fits the operation, the
/// sender is the connection's `department`, registered and active, the
/// time within `window` of `now`, and the key it names registered; that
/// key is returned to verify the signature with.
pub(crate) fn before_signature(
    parsed: &Parsed,
    expect: Kind,
    department: &str,
    view: &View,
    now: OffsetDateTime,
    window: time::Duration,
) -> Result<KeyRecord, ProtoError> {
    let h = &parsed.header;
    if h.kind != expect {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            format!(
                "this operation takes a {} envelope, not a {}",
                expect.as_str(),
                h.kind.as_str()
            ),
        ));
    }
    if h.sender != department {
        return Err(ProtoError::new(
            ErrorCode::SenderMismatch,
            format!(
                "the connection is {}, the envelope says it is from {}",
                department, h.sender
            ),
        ));
    }
    sender_active(view, &h.sender)?;
    parsed.check_time(now, window)?;
    let key = view.keys.get(&h.key_id).cloned().ok_or_else(|| {
        ProtoError::new(
            ErrorCode::KeyUnknown,
            format!("no key {} is registered", h.key_id),
        )
    })?;
    Ok(key)
}

fn sender_active(view: &View, sender: &str) -> Result<(), ProtoError> {
    match view.departments.get(sender) {
        Some(DepartmentStatus::Active) => Ok(()),
        Some(_) => Err(ProtoError::new(
            ErrorCode::DepartmentInactive,
            format!("department {sender} is suspended or retired"),
        )),
        None => Err(ProtoError::new(
            ErrorCode::DepartmentUnknown,
            format!("department {sender} is not registered"),
        )),
    }
}

/// The end of step 9: a payload by reference, if any, is the one checked
/// at step 2 (`exchange::reference`), with the same schema.
pub(crate) fn as_checked(v: &Verified, checked: Option<&Checked>) -> Result<(), ProtoError> {
    let h = &v.header;
    let Some(r) = &h.payload_ref else {
        return Ok(());
    };
    match checked {
        Some(c) if c.reference == *r && c.schema == h.schema => Ok(()),
        _ => Err(ProtoError::new(
            ErrorCode::Internal,
            "the payload reference was not checked; nothing was accepted",
        )),
    }
}

/// Steps 10–15, after the signature: the resource (or the hub's service)
/// it names, the rules of its kind, the payload against its schema, the
/// sender's quota, and for a request a provider there to answer it.
pub(crate) fn after_signature(
    v: &Verified,
    view: &View,
    live: &impl Live,
    now: OffsetDateTime,
) -> Result<(), ProtoError> {
    let h = &v.header;
    if let Some(service) = names::by_resource(&h.resource) {
        return for_service(v, view, service);
    }
    let resource = resource_named(h, view)?;
    if h.kind != Kind::Message && h.topic.is_some() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "only messages are published on a topic; requests and responses name none",
        ));
    }
    match h.kind {
        Kind::Message => authorise_message(h, resource, view, now)?,
        Kind::Request => authorise_request(h, resource, view, now)?,
        Kind::Response => authorise_response(h, resource, live)?,
    }
    let validator = view.validators.get(&h.schema).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered", h.schema),
        )
    })?;
    // A payload by reference was validated before the envelope was queued
    // (`exchange::reference`).
    if h.payload_ref.is_none() {
        validate(validator, &h.schema, v.payload())?;
    }
    if h.kind == Kind::Message {
        live.check_pending(&h.sender)?;
    }
    // Last, so that every other refusal takes precedence: a request that
    // nobody can answer is refused before anything is stored.
    if h.kind == Kind::Request {
        provider_present(h, resource, live)?;
    }
    Ok(())
}

/// Step 10: the catalogue resource the envelope names, not retired. A
/// provider answers a request another region's department sent through the
/// two hubs on the resource as that department named it, `{region}:{id}`;
/// only a response may, and only with its payload inline.
fn resource_named<'v>(h: &Header, view: &'v View) -> Result<&'v ExchangeResource, ProtoError> {
    let id = if h.kind == Kind::Response {
        names::local_id(&h.resource)
    } else {
        h.resource.as_str()
    };
    let resource = view.access.resource(id).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::ResourceUnknown,
            format!("no resource {} in the catalogue", h.resource),
        )
    })?;
    if id != h.resource && h.payload_ref.is_some() {
        // The other region's department could not download it from here.
        return Err(ProtoError::new(
            ErrorCode::PayloadTooLarge,
            "a response to another region carries its payload inline",
        ));
    }
    if resource.status != "published" {
        return Err(ProtoError::new(
            ErrorCode::CatalogueRetired,
            format!("{} is retired from the catalogue", h.resource),
        ));
    }
    Ok(resource)
}

fn forbidden(message: String) -> ProtoError {
    ProtoError::new(ErrorCode::ResourceForbidden, message)
}

/// The access rule for `consumer` on the envelope's resource at `now`.
fn may_use(view: &View, consumer: &str, h: &Header, now: OffsetDateTime) -> Result<(), ProtoError> {
    view.access
        .check(consumer, &h.resource, now)
        .map(|_| ())
        .map_err(refusal)
}

/// Step 11 for a message: from the provider, in the resource's schema, to
/// an active recipient the rule admits or on the resource's own topic.
fn authorise_message(
    h: &Header,
    resource: &ExchangeResource,
    view: &View,
    now: OffsetDateTime,
) -> Result<(), ProtoError> {
    if resource.provider != h.sender {
        return Err(forbidden(format!(
            "only {} provides {}; {} may not send it",
            resource.provider, resource.id, h.sender
        )));
    }
    if h.schema != resource.schema {
        return Err(forbidden(format!(
            "{} carries {}, not {}",
            resource.id, resource.schema, h.schema
        )));
    }
    if let Some(r) = &h.recipient {
        if view.departments.get(r) != Some(&DepartmentStatus::Active) {
            return Err(ProtoError::new(
                ErrorCode::RecipientUnknown,
                format!("{r} is not an active department"),
            ));
        }
        may_use(view, r, h, now)?;
    }
    if let Some(t) = &h.topic {
        if t != &resource.id {
            return Err(forbidden(format!(
                "messages of {} are published on topic {}, not {t}",
                resource.id, resource.id
            )));
        }
    }
    Ok(())
}

/// Step 11 for a request: the rule admits the sender; addressed to the
/// provider, if to anyone.
fn authorise_request(
    h: &Header,
    resource: &ExchangeResource,
    view: &View,
    now: OffsetDateTime,
) -> Result<(), ProtoError> {
    may_use(view, &h.sender, h, now)?;
    if h.recipient
        .as_deref()
        .is_some_and(|r| r != resource.provider)
    {
        return Err(forbidden(format!(
            "requests for {} go to its provider {}",
            resource.id, resource.provider
        )));
    }
    Ok(())
}

/// Step 11 for a response: from the provider, in the resource's schema, to
/// the requester of an open request.
fn authorise_response(
    h: &Header,
    resource: &ExchangeResource,
    live: &impl Live,
) -> Result<(), ProtoError> {
    if resource.provider != h.sender {
        return Err(forbidden(format!(
            "only {} answers for {}",
            resource.provider, resource.id
        )));
    }
    if h.schema != resource.schema {
        return Err(forbidden(format!(
            "answers for {} carry {}, not {}",
            resource.id, resource.schema, h.schema
        )));
    }
    if h.recipient.is_none() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "a response names the requester as recipient",
        ));
    }
    live.check_answer(h)
}

/// Step 15: the provider has a system connected, and the requester room
/// for one more request waiting on it.
fn provider_present(
    h: &Header,
    resource: &ExchangeResource,
    live: &impl Live,
) -> Result<(), ProtoError> {
    if !live.is_listening(&resource.provider) {
        return Err(ProtoError::new(
            ErrorCode::ProviderUnavailable,
            format!(
                "{} has no system connected to answer {}",
                resource.provider, resource.id
            ),
        ));
    }
    live.check_room(&h.sender, &resource.provider)
}

/// A request to one of the hub's own services: any active department may
/// ask (the service applies its own rules); the payload is inline and
/// satisfies the service's schema.
fn for_service(v: &Verified, view: &View, service: &HubService) -> Result<(), ProtoError> {
    let h = &v.header;
    if h.kind != Kind::Request {
        return Err(forbidden(format!(
            "{} is the hub's service: send it requests",
            h.resource
        )));
    }
    if h.schema != service.request_schema {
        return Err(forbidden(format!(
            "{} takes {}, not {}",
            h.resource, service.request_schema, h.schema
        )));
    }
    if h.payload_ref.is_some() || h.recipient.is_some() || h.topic.is_some() {
        return Err(ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            "a request to the hub's service carries its payload inline and names no recipient or topic",
        ));
    }
    let validator = view.validators.get(&h.schema).ok_or_else(|| {
        ProtoError::new(
            ErrorCode::SchemaUnknown,
            format!("schema {} is not registered (run `tongban init`)", h.schema),
        )
    })?;
    validate(validator, &h.schema, v.payload())
}

/// Step 16, replay: what the store's commit found of an envelope. It
/// decides in the same transaction that stores the envelope, so that two
/// nodes cannot both accept one; this says what its answer means.
pub(crate) fn settle(accepted: Accepted, h: &Header) -> Result<(u64, Vec<String>), ProtoError> {
    match accepted {
        Accepted::Stored { seq, recipients } => Ok((seq, recipients)),
        Accepted::Replay => Err(ProtoError::new(
            ErrorCode::Replay,
            format!("{} already sent an envelope with id {}", h.sender, h.id),
        )),
    }
}

#[cfg(test)]
mod tests {
    //! Every code admission gives, one row each (and the rows that pass), as
    //! `check(case) -> expected code` tables over a registry view built
    //! here and a table of live state: no store, no stream, no clock.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use serde_json::{Value, json};
    use time::macros::datetime;
    use tongban_proto::{Draft, PayloadRef};
    use tongban_seal::{KeyPurpose, SigningKey, Validity};
    use tongban_service::AccessRules;
    use tongban_store::AccessGrant;

    use super::*;

    const MARKET: &str = "11440114MB2C00007U";
    const CIVIL: &str = "11440114MB2C00015N";
    const HEALTH: &str = "11440114MB2C00066Y";
    const SUSPENDED: &str = "11440114MB2C00023J";
    /// Registered in the view but without a key there.
    const KEYLESS: &str = "11440114MB2C00031E";
    /// Registered, with a key, and no approval of anything.
    const OUTSIDER: &str = "11440114MB2C00040D";
    const NOW: OffsetDateTime = datetime!(2026-11-25 03:00 UTC);
    const WINDOW: time::Duration = time::Duration::minutes(5);

    fn signing_key(department: &str) -> SigningKey {
        let mut seed = [0u8; 32];
        for (s, b) in seed.iter_mut().zip(department.bytes()) {
            *s = b;
        }
        SigningKey::from_seed(&seed)
    }

    fn record(department: &str) -> KeyRecord {
        KeyRecord {
            controller: format!("urn:uscc:{department}"),
            public: signing_key(department).public(),
            validity: Validity::from(datetime!(2026-01-01 0:00 UTC)),
            purpose: KeyPurpose::Exchange,
        }
    }

    fn resource(id: &str, sharing: &str, status: &str) -> ExchangeResource {
        ExchangeResource {
            id: id.into(),
            provider: MARKET.into(),
            schema: "business-registration@1".into(),
            sharing_type: sharing.into(),
            status: status.into(),
        }
    }

    fn grant(id: u64, consumer: &str, until: OffsetDateTime) -> AccessGrant {
        AccessGrant {
            id,
            resource: "business-registration".into(),
            consumer: consumer.into(),
            valid_from: datetime!(2026-01-01 0:00 UTC),
            valid_until: until,
        }
    }

    /// MARKET provides `business-registration` (conditional: CIVIL holds an
    /// approval, HEALTH's ended), `open` (unconditional), `closed` (not
    /// shared) and `old` (retired); schemas of the resource and of the
    /// hub's `hub.case.licences` service are registered.
    fn view() -> View {
        let mut v = View::default();
        for d in [MARKET, CIVIL, HEALTH, KEYLESS, OUTSIDER] {
            v.departments.insert(d.into(), DepartmentStatus::Active);
        }
        v.departments
            .insert(SUSPENDED.into(), DepartmentStatus::Suspended);
        for d in [MARKET, CIVIL, HEALTH, SUSPENDED, OUTSIDER] {
            let r = record(d);
            v.keys.insert(r.key_id(), r);
        }
        v.access = Arc::new(AccessRules::new(
            vec![
                resource("business-registration", "conditional", "published"),
                resource("open", "unconditional", "published"),
                resource("closed", "not-shared", "published"),
                resource("old", "unconditional", "retired"),
            ],
            vec![
                grant(1, CIVIL, datetime!(2027-01-01 0:00 UTC)),
                grant(2, HEALTH, datetime!(2026-06-01 0:00 UTC)),
            ],
        ));
        let schema = |required: &str| {
            let doc = json!({"type": "object", "required": [required]});
            Arc::new(jsonschema::validator_for(&doc).unwrap())
        };
        v.validators
            .insert("business-registration@1".into(), schema("uscc"));
        v.validators
            .insert("case-licence-query@1".into(), schema("caseId"));
        v
    }

    /// The live state: who listens, which requests are open, room and quota.
    #[derive(Clone, Copy)]
    struct Fake {
        listening: bool,
        open_request: bool,
        room: bool,
        quota_left: bool,
    }

    const LIVE: Fake = Fake {
        listening: true,
        open_request: true,
        room: true,
        quota_left: true,
    };

    impl Live for Fake {
        fn check_answer(&self, _: &Header) -> Result<(), ProtoError> {
            self.open_request
                .then_some(())
                .ok_or_else(|| ProtoError::new(ErrorCode::ResponseUnexpected, "no such request"))
        }

        fn is_listening(&self, _: &str) -> bool {
            self.listening
        }

        fn check_room(&self, _: &str, _: &str) -> Result<(), ProtoError> {
            self.room
                .then_some(())
                .ok_or_else(|| ProtoError::new(ErrorCode::Busy, "too many waiting"))
        }

        fn check_pending(&self, _: &str) -> Result<(), ProtoError> {
            self.quota_left
                .then_some(())
                .ok_or_else(|| ProtoError::new(ErrorCode::QuotaExceeded, "quota"))
        }
    }

    /// One envelope and what surrounds it.
    struct Case {
        /// What the operation takes (`send`: message, `request`, `respond`).
        expect: Kind,
        /// The connection's department.
        department: &'static str,
        draft: Draft,
        /// Who signs it.
        signer: &'static str,
        /// Changes the signed JSON (tampering, shape).
        after_signing: fn(&mut Value),
        /// Whether a payload by reference was checked at step 2.
        reference_checked: bool,
        live: Fake,
    }

    fn draft(kind: Kind, sender: &str, resource: &str) -> Draft {
        Draft {
            id: "e1".into(),
            sender: sender.into(),
            recipient: None,
            topic: None,
            resource: resource.into(),
            schema: "business-registration@1".into(),
            kind,
            correlation_id: None,
            time: NOW,
            payload: Some(json!({"uscc": "91440114MA5TB0A01K"})),
            payload_ref: None,
        }
    }

    fn message_to(recipient: &str) -> Draft {
        Draft {
            recipient: Some(recipient.into()),
            ..draft(Kind::Message, MARKET, "business-registration")
        }
    }

    fn request_from(sender: &str, resource: &str) -> Draft {
        draft(Kind::Request, sender, resource)
    }

    fn response_to(requester: &str) -> Draft {
        Draft {
            recipient: Some(requester.into()),
            correlation_id: Some("r1".into()),
            ..draft(Kind::Response, MARKET, "business-registration")
        }
    }

    fn case(draft: Draft) -> Case {
        let expect = draft.kind;
        let department = match draft.sender.as_str() {
            MARKET => MARKET,
            CIVIL => CIVIL,
            HEALTH => HEALTH,
            SUSPENDED => SUSPENDED,
            OUTSIDER => OUTSIDER,
            _ => KEYLESS,
        };
        Case {
            expect,
            department,
            signer: department,
            draft,
            after_signing: |_| {},
            reference_checked: false,
            live: LIVE,
        }
    }

    fn blob() -> Option<PayloadRef> {
        Some(PayloadRef {
            sha256: "ab".repeat(32),
            size: 10,
            media_type: "application/json".into(),
        })
    }

    /// Steps 1 and 3–15 in the pipeline's order, with one strict signature
    /// check for the batch's.
    fn check(c: &Case, view: &View) -> Result<(), ErrorCode> {
        let run = || -> Result<(), ProtoError> {
            let mut value = c.draft.sign(&signing_key(c.signer))?;
            (c.after_signing)(&mut value);
            let parsed = tongban_proto::envelope::parse(value)?;
            let key = before_signature(&parsed, c.expect, c.department, view, NOW, WINDOW)?;
            let v = parsed.verify(&key)?;
            let checked = c.reference_checked.then(|| Checked {
                reference: v.header.payload_ref.clone().expect("a reference"),
                schema: v.header.schema.clone(),
            });
            as_checked(&v, checked.as_ref())?;
            after_signature(&v, view, &c.live, NOW)
        };
        run().map_err(|e| e.code)
    }

    #[test]
    fn every_admission_code_in_the_order_of_section_4_4() {
        use ErrorCode as E;
        #[rustfmt::skip]
        let rows: Vec<(&str, Case, Option<ErrorCode>)> = vec![
            ("a message to an approved consumer", case(message_to(CIVIL)), None),
            ("a message on its topic", case(Draft { recipient: None, topic: Some("business-registration".into()), ..message_to(CIVIL) }), None),
            ("a request of an approved consumer", case(request_from(CIVIL, "business-registration")), None),
            ("a request of an unconditional resource", case(request_from(HEALTH, "open")), None),
            ("a response to an open request", case(response_to(CIVIL)), None),
            ("a request to the hub's service", case(Draft { schema: "case-licence-query@1".into(), payload: Some(json!({"caseId": "c1"})), ..request_from(HEALTH, "hub.case.licences") }), None),
            ("a response to another region's request on {region}:{id}", case(Draft { resource: "441802:business-registration".into(), ..response_to(CIVIL) }), None),
            ("1 shape: a number beyond 2^53", Case { after_signing: |v| v["payload"]["n"] = json!(1u64 << 60), ..case(message_to(CIVIL)) }, Some(E::EnvelopeMalformed)),
            ("1 shape: a signature of the wrong length", Case { after_signing: |v| v["signature"] = json!("zAAAA"), ..case(message_to(CIVIL)) }, Some(E::SignatureInvalid)),
            ("3 kind: a request on a send stream", Case { expect: Kind::Message, ..case(request_from(CIVIL, "business-registration")) }, Some(E::EnvelopeMalformed)),
            ("4 sender: not the connection's department", Case { department: CIVIL, ..case(message_to(CIVIL)) }, Some(E::SenderMismatch)),
            ("5 sender: not registered", case(message_to(CIVIL)).sent_by_unregistered(), Some(E::DepartmentUnknown)),
            ("5 sender: suspended", case(request_from(SUSPENDED, "open")), Some(E::DepartmentInactive)),
            ("6 time: six minutes late", case(Draft { time: NOW - time::Duration::minutes(6), ..message_to(CIVIL) }), Some(E::StaleMessage)),
            ("6 time: five minutes ahead passes", case(Draft { time: NOW + WINDOW, ..message_to(CIVIL) }), None),
            ("7 key: not registered", case(request_from(KEYLESS, "open")), Some(E::KeyUnknown)),
            ("8 key: another department's", Case { signer: CIVIL, ..case(message_to(CIVIL)) }, Some(E::KeyNotSenders)),
            ("9 signature: payload changed after signing", Case { after_signing: |v| v["payload"]["uscc"] = json!("changed"), ..case(message_to(CIVIL)) }, Some(E::SignatureInvalid)),
            ("9 payload by reference not checked at step 2", case(Draft { payload: None, payload_ref: blob(), ..message_to(CIVIL) }), Some(E::Internal)),
            ("9 payload by reference checked at step 2", Case { reference_checked: true, ..case(Draft { payload: None, payload_ref: blob(), ..message_to(CIVIL) }) }, None),
            ("10 resource: not in the catalogue", case(request_from(CIVIL, "nothing")), Some(E::ResourceUnknown)),
            ("10 resource: {region}:{id} on a request", case(request_from(CIVIL, "441802:business-registration")), Some(E::ResourceUnknown)),
            ("10 resource: a response to another region by reference", Case { reference_checked: true, ..case(Draft { resource: "441802:business-registration".into(), payload: None, payload_ref: blob(), ..response_to(CIVIL) }) }, Some(E::PayloadTooLarge)),
            ("10 resource: retired", case(request_from(CIVIL, "old")), Some(E::CatalogueRetired)),
            ("11 a request on a topic", case(Draft { topic: Some("open".into()), ..request_from(CIVIL, "open") }), Some(E::EnvelopeMalformed)),
            ("11 message: not from the provider", case(Draft { sender: CIVIL.into(), ..message_to(HEALTH) }), Some(E::ResourceForbidden)),
            ("11 message: not the resource's schema", case(Draft { schema: "case-licence-query@1".into(), ..message_to(CIVIL) }), Some(E::ResourceForbidden)),
            ("11 message: to a suspended department", case(message_to(SUSPENDED)), Some(E::RecipientUnknown)),
            ("11 message: to an unregistered department", case(message_to("11440114MB2C00099Z")), Some(E::RecipientUnknown)),
            ("11 message: to a consumer whose approval ended", case(message_to(HEALTH)), Some(E::AccessExpired)),
            ("11 message: of a resource not shared", case(Draft { resource: "closed".into(), ..message_to(CIVIL) }), Some(E::AccessNotShared)),
            ("11 message: on another resource's topic", case(Draft { recipient: None, topic: Some("open".into()), ..message_to(CIVIL) }), Some(E::ResourceForbidden)),
            ("11 request: without an approval", case(request_from(OUTSIDER, "business-registration")), Some(E::AccessNotGranted)),
            ("11 request: approval ended", case(request_from(HEALTH, "business-registration")), Some(E::AccessExpired)),
            ("11 request: not shared", case(request_from(CIVIL, "closed")), Some(E::AccessNotShared)),
            ("11 request: to someone else than the provider", case(Draft { recipient: Some(HEALTH.into()), ..request_from(CIVIL, "open") }), Some(E::ResourceForbidden)),
            ("11 response: not from the provider", case(Draft { sender: CIVIL.into(), ..response_to(HEALTH) }), Some(E::ResourceForbidden)),
            ("11 response: not the resource's schema", case(Draft { schema: "case-licence-query@1".into(), ..response_to(CIVIL) }), Some(E::ResourceForbidden)),
            ("11 response: no recipient", case(Draft { recipient: None, ..response_to(CIVIL) }), Some(E::EnvelopeMalformed)),
            ("11 response: no open request", Case { live: Fake { open_request: false, ..LIVE }, ..case(response_to(CIVIL)) }, Some(E::ResponseUnexpected)),
            ("12 schema: a request's own, unregistered", case(Draft { schema: "unknown@1".into(), ..request_from(CIVIL, "open") }), Some(E::SchemaUnknown)),
            ("13 payload: violates the schema", case(Draft { payload: Some(json!({"name": "x"})), ..message_to(CIVIL) }), Some(E::PayloadInvalid)),
            ("14 quota: the sender's used up", Case { live: Fake { quota_left: false, ..LIVE }, ..case(message_to(CIVIL)) }, Some(E::QuotaExceeded)),
            ("14 quota: not a request's concern", Case { live: Fake { quota_left: false, ..LIVE }, ..case(request_from(CIVIL, "open")) }, None),
            ("15 request: nobody listening", Case { live: Fake { listening: false, ..LIVE }, ..case(request_from(CIVIL, "open")) }, Some(E::ProviderUnavailable)),
            ("15 request: no room with the provider", Case { live: Fake { room: false, ..LIVE }, ..case(request_from(CIVIL, "open")) }, Some(E::Busy)),
            ("15 after 11: a refused request learns nothing of the provider", Case { live: Fake { listening: false, ..LIVE }, ..case(request_from(CIVIL, "closed")) }, Some(E::AccessNotShared)),
            ("service: a message", case(Draft { kind: Kind::Message, recipient: Some(CIVIL.into()), schema: "case-licence-query@1".into(), payload: Some(json!({"caseId": "c1"})), ..request_from(MARKET, "hub.case.licences") }), Some(E::ResourceForbidden)),
            ("service: another schema", case(request_from(HEALTH, "hub.case.licences")), Some(E::ResourceForbidden)),
            ("service: names a recipient", case(Draft { recipient: Some(MARKET.into()), schema: "case-licence-query@1".into(), payload: Some(json!({"caseId": "c1"})), ..request_from(HEALTH, "hub.case.licences") }), Some(E::EnvelopeMalformed)),
            ("service: schema not registered", case(Draft { schema: "case-result@1".into(), ..request_from(HEALTH, "hub.case.result") }), Some(E::SchemaUnknown)),
            ("service: payload invalid", case(Draft { schema: "case-licence-query@1".into(), ..request_from(HEALTH, "hub.case.licences") }), Some(E::PayloadInvalid)),
            ("service: no provider need listen", Case { live: Fake { listening: false, ..LIVE }, ..case(Draft { schema: "case-licence-query@1".into(), payload: Some(json!({"caseId": "c1"})), ..request_from(HEALTH, "hub.case.licences") }) }, None),
        ];
        let view = view();
        let mut wrong = Vec::new();
        for (name, c, want) in &rows {
            let got = check(c, &view).err();
            if got != *want {
                wrong.push(format!("{name}: expected {want:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    impl Case {
        /// The same envelope from a department the view does not know,
        /// signed with a key it does.
        fn sent_by_unregistered(self) -> Case {
            let unknown = "11440114MB2C00099Z";
            Case {
                department: "11440114MB2C00099Z",
                draft: Draft {
                    sender: unknown.into(),
                    ..self.draft
                },
                ..self
            }
        }
    }

    #[test]
    fn the_store_decides_replay_and_admission_says_what_it_means() {
        let v = message_to(CIVIL);
        let signed = v.sign(&signing_key(MARKET)).unwrap();
        let h = tongban_proto::envelope::parse(signed).unwrap().header;
        let stored = Accepted::Stored {
            seq: 7,
            recipients: vec![CIVIL.into()],
        };
        assert_eq!(settle(stored, &h).unwrap(), (7, vec![CIVIL.to_owned()]));
        assert_eq!(
            settle(Accepted::Replay, &h).unwrap_err().code,
            ErrorCode::Replay
        );
    }
}
