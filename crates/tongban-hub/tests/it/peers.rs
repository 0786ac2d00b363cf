//! Hubs of two regions over real QUIC (全域通办): 清城区 (441802) pulls a
//! licence issued in 花都区 (440114); a peer link admits only what a peer
//! may do, and a certificate from a peer's CA never speaks for a department.

use std::time::Duration;

use serde_json::{Value, json};
use tongban_client::{Client, ClientConfig, ClientError};
use tongban_hub::ServeConfig;
use tongban_proto::services::{CaseLicenceQuery, Holder, HubRequest, RegionLicenceQuery};
use tongban_proto::{ClientOp, Decoder, Draft, ErrorCode, Kind, ServerOp};
use tongban_service::IssueInput;
use tongban_service::ca::CertRequest;
use tongban_tests::TestBackend;

use crate::{
    CIVIL, COMPANY, MARKET, QC_CIVIL, QC_HEALTH, TestHub, fast_config, put_item, registration,
    schemas_dir,
};

const BUSINESS_LICENCE: &str = "11100000TB0000001K001";
/// 清城区's 民政局 handles this item, whose material is a 营业执照: its
/// cases may read the holder's 营业执照, nothing else.
const ITEM: &str = "441802-MZ-0001";

fn peer_config() -> ServeConfig {
    ServeConfig {
        peer_refresh_every: Duration::from_millis(200),
        trust_rebuild_after: Duration::ZERO,
        // Tests pull in loops; the limit has a test of its own.
        licence_reads_per_minute: 0,
        ..fast_config()
    }
}

/// A store for each of the two regions' hubs, for every backend this run
/// has: both on SQLite, then both on PostgreSQL.
async fn backend_pairs(test: &str) -> Vec<(TestBackend, TestBackend)> {
    eprintln!("{test}");
    let here = tongban_tests::backends(&format!("{test}_qc")).await;
    let there = tongban_tests::backends(&format!("{test}_hd")).await;
    here.into_iter().zip(there).collect()
}

/// 清城区 and 花都区, each on its own store, peers of each other with
/// fresh trust lists; 花都区 has issued a 营业执照 to COMPANY.
async fn linked(qingcheng: TestBackend, huadu: TestBackend) -> (TestHub, TestHub, String) {
    linked_with(qingcheng, huadu, peer_config()).await
}

async fn linked_with(
    qingcheng: tongban_tests::TestBackend,
    huadu: tongban_tests::TestBackend,
    config: ServeConfig,
) -> (TestHub, TestHub, String) {
    linked_configured(qingcheng, config.clone(), huadu, config).await
}

async fn linked_configured(
    qingcheng: tongban_tests::TestBackend,
    q_config: ServeConfig,
    huadu: tongban_tests::TestBackend,
    h_config: ServeConfig,
) -> (TestHub, TestHub, String) {
    let q = TestHub::start_region(qingcheng, q_config, "441802", "清城区测试枢纽").await;
    let h = TestHub::start_region(huadu, h_config, "440114", "花都区测试枢纽").await;
    let schema: Value = serde_json::from_slice(
        &std::fs::read(schemas_dir().join("licence-types/business-licence.json")).unwrap(),
    )
    .unwrap();
    for (hub, civil) in [(&q.hub, QC_CIVIL), (&h.hub, CIVIL)] {
        hub.publish_licence_type(schema.clone()).await.unwrap();
        put_item(
            hub,
            civil,
            json!({
                "code": ITEM, "name": "社会团体成立登记", "itemType": "承诺件",
                "legalLimitDays": 20, "promisedLimitDays": 10,
                "materials": [{"name": "发起单位营业执照", "licenceType": BUSINESS_LICENCE}],
            }),
        )
        .await;
    }
    let issued = issue_business_licence(&h, COMPANY, "广州花都鸿睿启航电子科技有限公司").await;
    // Both hubs run on fixed clocks set when they started: 清城区's must not
    // be behind the licence's issue time.
    q.hub.clock().set(h.hub.now() + time::Duration::seconds(1));
    let q_card = q.hub.peer_card(&q.addr.to_string()).await.unwrap();
    let h_card = h.hub.peer_card(&h.addr.to_string()).await.unwrap();
    h.hub.peer_add(q_card).await.unwrap();
    q.hub.peer_add(h_card).await.unwrap();
    let started = std::time::Instant::now();
    while q.hub.peer_trust("440114").await.is_err()
        || h.hub.peer_trust("441802").await.is_err()
        || q.hub.peer_crl_check("440114", None).await.is_err()
        || h.hub.peer_crl_check("441802", None).await.is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the peers' trust lists and CRLs never arrived: {:?}",
            q.hub.peer_trust_states().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (q, h, issued.identifier.as_str().to_owned())
}

/// 花都区's 市场监管局 issues `holder` a 营业执照: the example's data with its code and name.
async fn issue_business_licence(
    h: &TestHub,
    holder: &str,
    name: &str,
) -> tongban_licence::IssuedLicence {
    let mut example: Value = serde_json::from_slice(
        &std::fs::read(schemas_dir().join("licence-types/examples/business-licence.json")).unwrap(),
    )
    .unwrap();
    example["uscc"] = json!(holder);
    example["entityName"] = json!(name);
    h.hub
        .issue(
            MARKET,
            IssueInput::from_json(&json!({
                "type": BUSINESS_LICENCE,
                "holder": {"name": name, "codeType": "001", "code": holder},
                "data": example,
            }))
            .unwrap(),
        )
        .await
        .unwrap()
}

/// What a pull's answer says of `region`.
fn outcome(answer: &Value, region: &str) -> Value {
    answer["payload"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == region)
        .cloned()
        .unwrap()
}

/// A pull as a case system may send it, whatever its payload: the hub,
/// not the client, is what these tests hold to account.
trait Pull {
    async fn pull(&self, query: Value) -> Result<Value, ClientError>;
}

impl Pull for Client {
    async fn pull(&self, query: Value) -> Result<Value, ClientError> {
        let wait = query.get("waitMs").and_then(Value::as_u64).unwrap_or(3_000);
        let timeout = tongban_proto::ops::DEFAULT_REQUEST_TIMEOUT_MS.max(wait + 5_000);
        let draft = self.request_for(
            RegionLicenceQuery::RESOURCE,
            RegionLicenceQuery::SCHEMA,
            query,
        );
        self.request(draft, timeout).await
    }
}

fn query(case: &str) -> Value {
    json!({
        "holder": {"codeType": "001", "code": COMPANY},
        "useCause": "核验申请单位营业执照（跨区域办理）",
        "caseId": case,
        "serviceItem": ITEM,
        "waitMs": 3000,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_pulls_a_licence_issued_in_another_region() {
    let here = tongban_tests::backends("peers_pull_here").await;
    let there = tongban_tests::backends("peers_pull_there").await;
    for (qb, hb) in here.into_iter().zip(there) {
        eprintln!("peers_pull: {}", qb.name);
        let (q, h, identifier) = linked(qb, hb).await;
        let civil = q.client(QC_CIVIL).await;
        // Asked with the client's typed query, read as its typed answer
        // and as the wire says it.
        let typed: RegionLicenceQuery = serde_json::from_value(query("QC-2026-000001")).unwrap();
        let read = civil.region_licences(&typed).await.unwrap();
        assert_eq!(read.payload.licences.len(), 1, "{:?}", read.payload);
        assert_eq!(read.payload.licences[0].origin.region, "440114");
        assert!(read.payload.licences[0].valid);
        assert_eq!(read.payload.holder, typed.holder);
        let answer = read.envelope;
        assert_eq!(answer["sender"], "urn:tongban:hub:441802");
        let p = &answer["payload"];
        let licences = p["licences"].as_array().unwrap();
        assert_eq!(licences.len(), 1, "{p}");
        assert_eq!(licences[0]["origin"]["region"], "440114");
        assert_eq!(licences[0]["identifier"], identifier.as_str());
        assert_eq!(licences[0]["valid"], true, "{}", licences[0]);
        assert_eq!(licences[0]["status"], "现势");
        let outcome = |region: &str| outcome(&answer, region);
        assert_eq!(outcome("440114")["outcome"], "answered");
        assert_eq!(outcome("440114")["licences"], 1);
        assert!(outcome("440114")["trustListValidUntil"].is_string());
        assert_eq!(outcome("441802")["licences"], 0);

        // The use is recorded in both regions, with the purpose and case.
        let there = h
            .hub
            .store()
            .uses_of_licence(&identifier, 10)
            .await
            .unwrap();
        assert_eq!(there.len(), 1);
        assert_eq!(
            there[0].requester,
            format!("urn:tongban:hub:441802/{QC_CIVIL}")
        );
        assert_eq!(there[0].use_cause, "核验申请单位营业执照（跨区域办理）");
        assert_eq!(there[0].case_ref.as_deref(), Some("441802:QC-2026-000001"));
        let here = q
            .hub
            .store()
            .uses_of_licence(&identifier, 10)
            .await
            .unwrap();
        assert_eq!(here.len(), 1);
        assert_eq!(here[0].requester, QC_CIVIL);
        assert_eq!(here[0].query_kind, "peer-holder");
        assert_eq!(here[0].case_ref.as_deref(), Some("QC-2026-000001"));

        // Without a purpose: refused before anyone is asked.
        let mut q2 = query("QC-2026-000002");
        q2["useCause"] = json!("  ");
        let e = civil.pull(q2).await.unwrap_err();
        assert_eq!(e.reason(), Some("USE_CAUSE_REQUIRED"));
        assert_eq!(
            h.hub
                .store()
                .uses_of_licence(&identifier, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        civil.close().await;
        q.stop().await;
        h.stop().await;
    }
}

/// Sends one signed `request` frame on a fresh stream and reads the answer.
async fn raw_request(client: &Client, envelope: &Value) -> ServerOp {
    let (mut send, mut recv) = client.raw_stream().await.unwrap();
    let frame = tongban_proto::encode(
        &ClientOp::Request {
            envelope: envelope.clone(),
            timeout_ms: 3000,
        }
        .to_value(),
    );
    send.write_all(&frame).await.unwrap();
    send.finish().unwrap();
    let bytes = recv.read_to_end(16 << 20).await.unwrap();
    let mut decoder = Decoder::new(16 << 20);
    decoder.push(&bytes);
    ServerOp::parse(decoder.next_frame().unwrap().unwrap()).unwrap()
}

fn refusal(op: ServerOp) -> (ErrorCode, Option<String>) {
    match op.into_refusal() {
        Err(e) => (e.code, e.reason),
        Ok(other) => panic!("accepted: {other:?}"),
    }
}

fn refused_reason(r: Result<Value, ClientError>) -> String {
    match r {
        Err(e) => e
            .reason()
            .map(str::to_owned)
            .or(e.code().map(|c| c.as_str().to_owned()))
            .unwrap_or_else(|| e.to_string()),
        Ok(v) => panic!("accepted: {v}"),
    }
}

/// How 清城区's hub `q` connects, as itself, to a node of 花都区's hub.
async fn peer_link(q: &TestHub) -> impl Fn(&TestHub) -> ClientConfig + use<> {
    let (cert_pem, key_pem) = q.hub.peer_client_identity().await.unwrap();
    let key_pem = key_pem.to_string();
    let secret = q
        .hub
        .danger_signing_key("hub")
        .await
        .unwrap()
        .to_secret_multikey();
    move |node| ClientConfig {
        hubs: vec![node.addr],
        server_name: "localhost".into(),
        ca_pem: node.ca_pem.clone(),
        cert_pem: cert_pem.clone(),
        key_pem: key_pem.clone(),
        department: "urn:tongban:hub:441802".into(),
        signing_key: tongban_seal::SigningKey::from_secret_multikey(&secret).unwrap(),
        timeouts: tongban_client::Timeouts::default(),
    }
}

const HOLDER_CAUSE: &str = "核验申请单位营业执照（跨区域办理）";
/// The case of the requests forwarded by hand below.
const FORWARDED_CASE: &str = "QC-2026-000050";

/// 清城区's 民政局's own request to `hub.region.licences`, signed with `key`.
fn origin(payload: Value, key: &tongban_seal::SigningKey) -> Value {
    origin_at(payload, key, time::OffsetDateTime::now_utc())
}

/// [`origin`] made at `time`.
fn origin_at(payload: Value, key: &tongban_seal::SigningKey, time: time::OffsetDateTime) -> Value {
    Draft {
        id: tongban_proto::new_id(),
        sender: QC_CIVIL.into(),
        recipient: None,
        topic: None,
        resource: "hub.region.licences".into(),
        schema: "region-licence-query@2".into(),
        kind: Kind::Request,
        correlation_id: None,
        time,
        payload: Some(payload),
        payload_ref: None,
    }
    .sign(key)
    .unwrap()
}

/// 清城区's hub asking for COMPANY's licences on behalf of its 民政局,
/// carrying `origin`, the department's own request.
fn forwarded(peer: &Client, origin: Option<Value>) -> Draft {
    let mut p = json!({
        "holder": {"codeType": "001", "code": COMPANY},
        "useCause": HOLDER_CAUSE,
        "caseId": FORWARDED_CASE,
        "serviceItem": ITEM,
        "requester": QC_CIVIL,
        "licenceTypes": [BUSINESS_LICENCE],
    });
    if let Some(o) = origin {
        p["origin"] = o;
    }
    peer.request_for("hub.peer.licences", "peer-licence-query@2", p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_link_admits_only_what_a_peer_may_do() {
    for (qb, hb) in backend_pairs("a_peer_link_admits_only_what_a_peer_may_do").await {
        a_peer_link_admits_only_what_a_peer_may_do_on(qb, hb).await;
    }
}

async fn a_peer_link_admits_only_what_a_peer_may_do_on(qb: TestBackend, hb: TestBackend) {
    let (q, h, _) = linked(qb, hb).await;
    // 清城区's hub connects to 花都区's as itself.
    let link = peer_link(&q).await;
    let peer_config = || link(&h);
    let hub_key = q.hub.danger_signing_key("hub").await.unwrap();
    let peer = Client::connect(peer_config()).await.unwrap();

    // The trust list, signed with 花都区's anchor.
    let list = peer.trust_list().await.unwrap();
    let anchor = h.hub.identity().await.unwrap().anchor;
    tongban_licence::trustfile::load(
        &list,
        &tongban_seal::PublicKey::from_multikey(&anchor).unwrap(),
        h.hub.now(),
    )
    .unwrap();

    // Nothing of the exchange: a peer hub is not a department.
    let e = peer
        .send(peer.message_to(
            MARKET,
            "business-registration",
            "business-registration@1",
            registration(COMPANY),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ResourceForbidden), "{e}");
    let e = peer
        .request(
            peer.request_for(
                "business-registration",
                "business-registration@1",
                json!({}),
            ),
            2000,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ResourceForbidden), "{e}");

    // The department's own request must come along, signed by it.
    let holder = json!({"codeType": "001", "code": COMPANY});
    let cause = HOLDER_CAUSE;
    let forwarded = |origin: Option<Value>| forwarded(&peer, origin);
    let civil_key = q.hub.danger_signing_key(QC_CIVIL).await.unwrap();
    let genuine = json!({
        "holder": holder, "useCause": cause, "caseId": FORWARDED_CASE, "serviceItem": ITEM,
    });
    assert_eq!(
        refused_reason(peer.request(forwarded(None), 3000).await),
        "ORIGIN_MISSING"
    );
    // Something that is no envelope, or the department's request made
    // longer ago than the time window allows.
    let made_long_ago = origin_at(
        genuine.clone(),
        &civil_key,
        h.hub.now() - time::Duration::minutes(10),
    );
    for invalid in [json!({"id": "not-an-envelope"}), made_long_ago] {
        assert_eq!(
            refused_reason(peer.request(forwarded(Some(invalid)), 3000).await),
            "ORIGIN_INVALID"
        );
    }
    let stranger = tongban_seal::SigningKey::generate().unwrap();
    assert_eq!(
        refused_reason(
            peer.request(forwarded(Some(origin(genuine.clone(), &stranger))), 3000)
                .await
        ),
        "ORIGIN_UNVERIFIED"
    );
    let mut other_holder = genuine.clone();
    other_holder["holder"] = json!({"codeType": "001", "code": "91440114MA5TB0A02J"});
    assert_eq!(
        refused_reason(
            peer.request(forwarded(Some(origin(other_holder, &civil_key))), 3000)
                .await
        ),
        "ORIGIN_MISMATCH"
    );
    // The types asked must be those the department named.
    let mut named = genuine.clone();
    named["licenceTypes"] = json!([BUSINESS_LICENCE]);
    let mut widened = forwarded(Some(origin(named, &civil_key)));
    widened.payload.as_mut().unwrap()["licenceTypes"] =
        json!([BUSINESS_LICENCE, "11100000TB0000002N001"]);
    assert_eq!(
        refused_reason(peer.request(widened, 3000).await),
        "ORIGIN_MISMATCH"
    );
    // Another case or item than the department's.
    for (member, value) in [
        ("caseId", "QC-2026-999999"),
        ("serviceItem", "441802-MZ-0002"),
    ] {
        let mut moved = forwarded(Some(origin(genuine.clone(), &civil_key)));
        moved.payload.as_mut().unwrap()[member] = json!(value);
        assert_eq!(
            refused_reason(peer.request(moved, 3000).await),
            "ORIGIN_MISMATCH",
            "{member}"
        );
    }
    // A read bound to no case, item or type is refused whatever it carries.
    for member in ["caseId", "serviceItem", "licenceTypes"] {
        let mut unbound = forwarded(Some(origin(genuine.clone(), &civil_key)));
        unbound
            .payload
            .as_mut()
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(member);
        assert_eq!(
            refused_reason(peer.request(unbound, 3000).await),
            "READ_UNBOUND",
            "{member}"
        );
    }
    // A genuine one is answered by 花都区's hub, signed with its anchor.
    let genuine_origin = origin(genuine.clone(), &civil_key);
    let envelope = peer.sign(&forwarded(Some(genuine_origin.clone()))).unwrap();
    let answer = match raw_request(&peer, &envelope).await {
        ServerOp::Response { envelope } => envelope,
        other => panic!("{other:?}"),
    };
    assert_eq!(answer["sender"], "urn:tongban:hub:440114");
    assert_eq!(answer["payload"]["licences"].as_array().unwrap().len(), 1);
    // The same envelope again is a replay.
    assert_eq!(
        refusal(raw_request(&peer, &envelope).await).0,
        ErrorCode::Replay
    );
    // The department's request again, in a new envelope of the hub.
    assert_eq!(
        refused_reason(peer.request(forwarded(Some(genuine_origin)), 3000).await),
        "ORIGIN_REPLAYED"
    );
    // Another region's name on 清城区's link.
    let mut draft = forwarded(Some(origin(genuine.clone(), &civil_key)));
    draft.sender = "urn:tongban:hub:110101".into();
    let forged = draft.sign(&hub_key).unwrap();
    assert_eq!(
        refusal(raw_request(&peer, &forged).await).0,
        ErrorCode::SenderMismatch
    );

    // A department certificate from 清城区's CA does not speak for
    // 花都区's 民政局, even if 清城区 registers that code (with no key: a
    // key would put it in 清城区's trust list, which 花都区 then refuses):
    // refused after the handshake.
    q.hub
        .add_department(tongban_service::NewDepartment {
            code: CIVIL.into(),
            name: "冒用花都区民政局的代码".into(),
            region_code: "441802".into(),
            platform_level: tongban_store::PlatformLevel::District,
            parent_code: None,
            contact: None,
        })
        .await
        .unwrap();
    let civil_there = q
        .hub
        .ca_issue(CertRequest::client(CIVIL), None)
        .await
        .unwrap();
    let impostor = Client::connect(ClientConfig {
        cert_pem: civil_there.row.pem.clone(),
        key_pem: civil_there.key_pem.to_string(),
        department: CIVIL.into(),
        signing_key: h.hub.danger_signing_key(CIVIL).await.unwrap(),
        ..peer_config()
    })
    .await;
    let refused = match impostor {
        Err(e) => e.to_string(),
        Ok(c) => c.trust_list().await.unwrap_err().to_string(),
    };
    assert!(refused.contains("PEER_UNKNOWN"), "{refused}");

    // Removed: the live link is closed and no new one is admitted.
    h.hub.peer_remove("441802").await.unwrap();
    let started = std::time::Instant::now();
    while peer.close_reason().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the link stayed open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(peer.close_reason().unwrap().contains("PEER_UNKNOWN"));
    let again = match Client::connect(peer_config()).await {
        Err(e) => e.to_string(),
        Ok(c) => c.trust_list().await.unwrap_err().to_string(),
    };
    assert!(!again.is_empty());
    // 清城区's case system now hears that 花都区 is out of reach.
    let civil = q.client(QC_CIVIL).await;
    let answer = civil.pull(query("QC-2026-000003")).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["outcome"], "failed", "{huadu}");
    assert!(
        ["PEER_UNREACHABLE", "PEER_REFUSED", "PEER_TIMEOUT"]
            .contains(&huadu["code"].as_str().unwrap()),
        "{huadu}"
    );
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_of_a_hub_refuses_what_another_node_answered() {
    for (qb, hb) in backend_pairs("peers_nodes").await {
        // 花都区's hub served by two nodes.
        let (q, h, _) = linked(qb, hb).await;
        let h2 = h.another_node(peer_config()).await;
        let link = peer_link(&q).await;
        let to_one = Client::connect(link(&h)).await.unwrap();
        let to_two = Client::connect(link(&h2)).await.unwrap();
        let civil_key = q.hub.danger_signing_key(QC_CIVIL).await.unwrap();
        let genuine = json!({
            "holder": {"codeType": "001", "code": COMPANY},
            "useCause": HOLDER_CAUSE,
            "caseId": FORWARDED_CASE,
            "serviceItem": ITEM,
        });

        // Answered by node one, then refused by node two: the same envelope,
        // and the department's request in a new envelope of the hub.
        let department = origin(genuine.clone(), &civil_key);
        let envelope = to_one
            .sign(&forwarded(&to_one, Some(department.clone())))
            .unwrap();
        match raw_request(&to_one, &envelope).await {
            ServerOp::Response { envelope } => {
                assert_eq!(envelope["payload"]["licences"].as_array().unwrap().len(), 1)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            refusal(raw_request(&to_two, &envelope).await).0,
            ErrorCode::Replay
        );
        assert_eq!(
            refused_reason(
                to_two
                    .request(forwarded(&to_two, Some(department)), 3000)
                    .await
            ),
            "ORIGIN_REPLAYED"
        );
        // A new request of the department is answered by either node, once.
        let department = origin(genuine, &civil_key);
        let answer = to_two
            .request(forwarded(&to_two, Some(department.clone())), 3000)
            .await
            .unwrap();
        assert_eq!(answer["payload"]["licences"].as_array().unwrap().len(), 1);
        assert_eq!(
            refused_reason(
                to_one
                    .request(forwarded(&to_one, Some(department)), 3000)
                    .await
            ),
            "ORIGIN_REPLAYED"
        );
        // Two answers, so two uses recorded in 花都区, whichever node answered.
        let uses = h
            .hub
            .store()
            .recent_uses(Some(&format!("urn:tongban:hub:441802/{QC_CIVIL}")), 10)
            .await
            .unwrap();
        assert_eq!(uses.len(), 2, "{uses:?}");
        to_one.close().await;
        to_two.close().await;
        h2.stop().await;
        q.stop().await;
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_regions_open_resources_are_found_and_requested_through_the_two_hubs() {
    let here = tongban_tests::backends("peers_catalogue_here").await;
    let there = tongban_tests::backends("peers_catalogue_there").await;
    for (qb, hb) in here.into_iter().zip(there) {
        eprintln!("peers_catalogue: {}", qb.name);
        let (q, h, _) = linked(qb, hb).await;
        // 花都区 shares one resource unconditionally (and one on conditions,
        // business-registration, which other regions never see).
        h.hub
            .catalogue_publish(
                MARKET,
                serde_json::from_value(json!({
                    "id": "market-entities", "name": "市场主体公示信息", "schema": "business-registration@1",
                    "sharingType": "无条件共享", "tags": ["营业执照", "公示"],
                    "description": "新设市场主体的公示信息，供各地核验",
                }))
                .unwrap(),
                false,
            )
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let found = loop {
            let found = q.hub.peer_catalogue_search("公示", 10).await.unwrap();
            if !found.is_empty() {
                break found;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "never listed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].qualified_id(), "440114:market-entities");
        assert_eq!(found[0].region, "440114");
        assert!(
            q.hub
                .peer_catalogue_search("新设市场主体登记信息", 10)
                .await
                .unwrap()
                .is_empty()
        );

        let civil = q.client(QC_CIVIL).await;
        let ask = |resource: &str, payload: Value| {
            civil.request_for(resource, "business-registration@1", payload)
        };
        // 花都区's provider is not listening yet: its hub says so.
        let e = civil
            .request(ask("440114:market-entities", registration(COMPANY)), 3000)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ProviderUnavailable), "{e}");

        let market = h.client(MARKET).await;
        let mut l = market.listen(8).await.unwrap();
        let answering = tokio::spawn(async move {
            let d = crate::flows::next_delivery(&mut l).await;
            assert_eq!(d.kind(), "request");
            assert_eq!(d.envelope["sender"], QC_CIVIL);
            assert_eq!(d.envelope["resource"], "440114:market-entities");
            l.respond(&d, "business-registration@1", registration(COMPANY))
                .await
                .unwrap();
            l
        });
        let req = ask("440114:market-entities", registration(COMPANY));
        let request_id = req.id.clone();
        let answer = civil.request(req, 5000).await.unwrap();
        // The provider's own signed response, end to end.
        assert_eq!(answer["sender"], MARKET);
        assert_eq!(answer["recipient"], QC_CIVIL);
        assert_eq!(answer["correlationId"], request_id.as_str());
        assert_eq!(answer["payload"]["uscc"], COMPANY);
        let _l = answering.await.unwrap();
        // Logged on both sides.
        let there = h.hub.store().audit_of("market-entities", 10).await.unwrap();
        assert!(
            there.iter().any(|e| e.action == "exchange.peer_request"),
            "{there:?}"
        );
        let here = q
            .hub
            .store()
            .audit_of("440114:market-entities", 10)
            .await
            .unwrap();
        assert!(here.iter().any(|e| e.action == "exchange.peer_request"));

        // Refused here, before anyone is asked: a payload the schema
        // refuses, a resource not shared with other regions, a region that
        // is no peer.
        let e = civil
            .request(ask("440114:market-entities", json!({"uscc": 5})), 3000)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::PayloadInvalid), "{e}");
        let e = civil
            .request(
                ask("440114:business-registration", registration(COMPANY)),
                3000,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceUnknown), "{e}");
        let e = civil
            .request(ask("110101:market-entities", registration(COMPANY)), 3000)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceUnknown), "{e}");
        civil.close().await;
        market.close().await;
        q.stop().await;
        h.stop().await;
    }
}

/// With refreshes an hour apart, a department's rotated key is fetched by
/// the other region when first seen, not an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_department_key_is_fetched_when_the_other_region_first_sees_it() {
    for (qb, hb) in
        backend_pairs("a_rotated_department_key_is_fetched_when_the_other_region_first_sees_it")
            .await
    {
        a_rotated_department_key_is_fetched_when_the_other_region_first_sees_it_on(qb, hb).await;
    }
}

async fn a_rotated_department_key_is_fetched_when_the_other_region_first_sees_it_on(
    qb: TestBackend,
    hb: TestBackend,
) {
    let config = ServeConfig {
        peer_refresh_every: Duration::from_secs(3600),
        ..peer_config()
    };
    let (q, h, identifier) = linked_with(qb, hb, config).await;
    let (_, old) = q
        .hub
        .current_key(QC_CIVIL, tongban_seal::KeyPurpose::Exchange)
        .await
        .unwrap();
    q.hub
        .rotate_key(&old.public.to_multikey(), time::Duration::ZERO)
        .await
        .unwrap();
    // Past the out-of-schedule limit of the first fetches.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let civil = q.client(QC_CIVIL).await;
    let answer = civil.pull(query("QC-2026-000009")).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["outcome"], "answered", "{huadu}");
    assert_eq!(
        answer["payload"]["licences"][0]["identifier"],
        identifier.as_str()
    );
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_newer_than_the_served_trust_list_verifies_in_the_same_pull() {
    for (qb, hb) in
        backend_pairs("a_licence_newer_than_the_served_trust_list_verifies_in_the_same_pull").await
    {
        a_licence_newer_than_the_served_trust_list_verifies_in_the_same_pull_on(qb, hb).await;
    }
}

async fn a_licence_newer_than_the_served_trust_list_verifies_in_the_same_pull_on(
    qb: TestBackend,
    hb: TestBackend,
) {
    // 花都区 rebuilds its served list once an hour, unless it answers with
    // a licence the list cannot vouch for.
    let config = ServeConfig {
        trust_rebuild_after: Duration::from_secs(3600),
        ..peer_config()
    };
    let (q, h, _) = linked_with(qb, hb, config).await;
    // 花都区's 市场监管局 rotates its key, then issues with the new one.
    let (_, old) = h
        .hub
        .current_key(MARKET, tongban_seal::KeyPurpose::Issue)
        .await
        .unwrap();
    h.hub
        .rotate_key(&old.public.to_multikey(), time::Duration::ZERO)
        .await
        .unwrap();
    h.hub.clock().set(h.hub.now() + time::Duration::seconds(2));
    q.hub.clock().set(h.hub.now() + time::Duration::seconds(1));
    let holder = "91440114MA5TB0A02N";
    let issued = issue_business_licence(&h, holder, "广州花都新设电子有限公司").await;
    // Past the out-of-schedule limit of the first fetches.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let civil = q.client(QC_CIVIL).await;
    let mut ask = query("QC-2026-000011");
    ask["holder"]["code"] = json!(holder);
    let answer = civil.pull(ask).await.unwrap();
    let licences = answer["payload"]["licences"].as_array().unwrap();
    assert_eq!(licences.len(), 1, "{answer}");
    assert_eq!(licences[0]["identifier"], issued.identifier.as_str());
    assert_eq!(licences[0]["valid"], true, "{}", licences[0]);
    assert_eq!(licences[0]["problems"], json!([]), "{}", licences[0]);
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_certificate_its_ca_revoked_is_refused_and_its_link_closed() {
    for (qb, hb) in
        backend_pairs("a_peer_certificate_its_ca_revoked_is_refused_and_its_link_closed").await
    {
        a_peer_certificate_its_ca_revoked_is_refused_and_its_link_closed_on(qb, hb).await;
    }
}

async fn a_peer_certificate_its_ca_revoked_is_refused_and_its_link_closed_on(
    qb: TestBackend,
    hb: TestBackend,
) {
    let (q, h, identifier) = linked(qb, hb).await;
    // 清城区's hub connects to 花都区's with its peer certificate.
    let link = peer_link(&q).await;
    let old = Client::connect(link(&h)).await.unwrap();
    old.trust_list().await.unwrap();
    // 清城区 revokes that certificate (its key leaked, say).
    let serial = q
        .hub
        .ca_list()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == "peer" && c.revoked_at.is_none())
        .unwrap()
        .serial;
    q.hub.ca_revoke(&serial, "keyCompromise").await.unwrap();
    // 花都区 fetches 清城区's CRL with its next refresh, and closes the link.
    let started = std::time::Instant::now();
    while old.close_reason().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the link stayed open: {:?}",
            h.hub.store().peer_crls().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = old.close_reason().unwrap();
    assert!(reason.contains("no longer admitted"), "{reason}");
    // A new connection with it is refused in the handshake.
    let again = match Client::connect(link(&h)).await {
        Err(e) => e.to_string(),
        Ok(c) => c.trust_list().await.unwrap_err().to_string(),
    };
    assert!(again.to_lowercase().contains("revoked"), "{again}");
    // 清城区's own hub links again with a new certificate: pulls go on.
    let civil = q.client(QC_CIVIL).await;
    let started = std::time::Instant::now();
    loop {
        let answer = civil.pull(query("QC-2026-000021")).await.unwrap();
        let licences = answer["payload"]["licences"].as_array().unwrap();
        if licences.len() == 1 {
            assert_eq!(licences[0]["identifier"], identifier.as_str());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never answered again: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_card_ends_the_links_made_for_the_old_one() {
    for (qb, hb) in backend_pairs("a_replaced_card_ends_the_links_made_for_the_old_one").await {
        a_replaced_card_ends_the_links_made_for_the_old_one_on(qb, hb).await;
    }
}

async fn a_replaced_card_ends_the_links_made_for_the_old_one_on(qb: TestBackend, hb: TestBackend) {
    let renewed = qb.sibling("replaced_card_new").await;
    let (q, h, _) = linked(qb, hb).await;
    let link = peer_link(&q).await;
    let old = Client::connect(link(&h)).await.unwrap();
    old.trust_list().await.unwrap();
    // 清城区's hub is set up anew (another CA, key and address), and
    // 花都区's administrator replaces its card.
    let q2 = TestHub::start_region(renewed, peer_config(), "441802", "清城区新枢纽").await;
    // Not behind 花都区's clock, nor before its own keys were made.
    q2.hub
        .clock()
        .set(q2.hub.now().max(h.hub.now() + time::Duration::seconds(1)));
    let card = q2.hub.peer_card(&q2.addr.to_string()).await.unwrap();
    h.hub.peer_remove("441802").await.unwrap();
    h.hub.peer_add(card).await.unwrap();
    // A link made with the old CA's certificate is closed.
    let started = std::time::Instant::now();
    while old.close_reason().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the old link stayed open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(old.close_reason().unwrap().contains("PEER_UNKNOWN"));
    // 花都区 links to the new hub, not over its link to the old one: once
    // the new hub adds 花都区's card, its list arrives and it answers.
    let h_card = h.hub.peer_card(&h.addr.to_string()).await.unwrap();
    q2.hub.peer_add(h_card).await.unwrap();
    let civil = h.client(CIVIL).await;
    let started = std::time::Instant::now();
    loop {
        let answer = civil.pull(query("HD-2026-000031")).await.unwrap();
        let qingcheng = outcome(&answer, "441802");
        if qingcheng["outcome"] == "answered" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new hub never answered: {qingcheng}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    civil.close().await;
    q2.stop().await;
    q.stop().await;
    h.stop().await;
}

/// The review's probe: a department with no case and no item of its own
/// asked for any holder's licences with a purpose of "x". A pull is bound
/// to a case of the department's own item and to that item's licence
/// types, and nothing is asked of a peer, or recorded, before it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_is_bound_to_a_case_of_the_departments_own_item() {
    for (qb, hb) in backend_pairs("peers_bound").await {
        let (q, h, identifier) = linked(qb, hb).await;
        let health = q.client(QC_HEALTH).await;
        let civil = q.client(QC_CIVIL).await;
        let bare = json!({
            "holder": {"codeType": "001", "code": COMPANY},
            "useCause": "x",
        });
        // The request as it was probed: no case, no item.
        let e = health.pull(bare.clone()).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::PayloadInvalid), "{e}");
        // The old schema, which carried neither, is no longer taken.
        let old = health.request_for("hub.region.licences", "region-licence-query@1", bare);
        let e = health.request(old, 5_000).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceForbidden), "{e}");
        // Another department's item.
        let e = health.pull(query("QC-2026-000060")).await.unwrap_err();
        assert_eq!(e.reason(), Some("ITEM_NOT_HANDLER"), "{e}");
        // A licence type the item does not name (结婚证).
        let mut ask = query("QC-2026-000061");
        ask["licenceTypes"] = json!(["11100000TB0000002N001"]);
        let e = civil.pull(ask).await.unwrap_err();
        assert_eq!(e.reason(), Some("LICENCE_TYPE_NOT_IN_ITEM"), "{e}");
        // An item that names no licence type reads none.
        put_item(
            &q.hub,
            QC_CIVIL,
            json!({
                "code": "441802-MZ-0009", "name": "婚姻登记档案查询", "itemType": "即办件",
                "legalLimitDays": 1, "promisedLimitDays": 1,
                "materials": [{"name": "查询申请表"}],
            }),
        )
        .await;
        let mut ask = query("QC-2026-000062");
        ask["serviceItem"] = json!("441802-MZ-0009");
        let e = civil.pull(ask).await.unwrap_err();
        assert_eq!(e.reason(), Some("ITEM_NO_LICENCE_MATERIALS"), "{e}");
        // A case of the department's own, but of another holder.
        civil.pull(query("QC-2026-000063")).await.unwrap();
        let mut ask = query("QC-2026-000063");
        ask["holder"]["code"] = json!("91440114MA5TB0A02N");
        let e = civil.pull(ask).await.unwrap_err();
        assert_eq!(e.reason(), Some("CASE_CONFLICT"), "{e}");
        // Only the one bound pull was answered and recorded, in both regions.
        let there = h
            .hub
            .store()
            .uses_of_licence(&identifier, 10)
            .await
            .unwrap();
        assert_eq!(there.len(), 1, "{there:?}");
        assert_eq!(there[0].case_ref.as_deref(), Some("441802:QC-2026-000063"));
        let asked_here = q
            .hub
            .store()
            .recent_uses(Some(QC_HEALTH), 10)
            .await
            .unwrap();
        assert!(asked_here.is_empty(), "{asked_here:?}");
        health.close().await;
        civil.close().await;
        q.stop().await;
        h.stop().await;
    }
}

/// Licence reads are limited per department, here and at the peer: one
/// department's burst leaves another's reads alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_reads_are_rate_limited_per_department() {
    for (qb, hb) in backend_pairs("licence_reads_are_rate_limited_per_department").await {
        licence_reads_are_rate_limited_per_department_on(qb, hb).await;
    }
}

async fn licence_reads_are_rate_limited_per_department_on(qb: TestBackend, hb: TestBackend) {
    let limited = ServeConfig {
        licence_reads_per_minute: 1,
        licence_read_burst: 2,
        ..peer_config()
    };
    // 清城区 allows each department a burst of 2, 花都区 each of 清城区's
    // departments a burst of 1.
    let (q, h, _) = linked_configured(
        qb,
        limited.clone(),
        hb,
        ServeConfig {
            licence_read_burst: 1,
            ..limited
        },
    )
    .await;
    put_item(
        &q.hub,
        QC_HEALTH,
        json!({
            "code": "441802-WJ-0001", "name": "医疗机构执业登记", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10,
            "materials": [{"name": "营业执照", "licenceType": BUSINESS_LICENCE}],
        }),
    )
    .await;
    let civil = q.client(QC_CIVIL).await;
    let answer = civil.pull(query("QC-2026-000070")).await.unwrap();
    assert_eq!(outcome(&answer, "440114")["outcome"], "answered");
    // The second: 清城区 still allows it, 花都区 does not.
    let answer = civil.pull(query("QC-2026-000071")).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["code"], "PEER_REFUSED", "{huadu}");
    assert!(
        huadu["message"].as_str().unwrap().contains("RATE_LIMITED"),
        "{huadu}"
    );
    // The third: 清城区 refuses it itself.
    let e = civil.pull(query("QC-2026-000072")).await.unwrap_err();
    assert_eq!(e.reason(), Some("RATE_LIMITED"), "{e}");
    // The case licences service draws on the same share.
    let e = civil
        .case_licences(&CaseLicenceQuery::new(
            "QC-2026-000073",
            ITEM,
            Holder::new("001", COMPANY),
            "核验申请单位营业执照",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some("RATE_LIMITED"), "{e}");
    // 卫健局 is not held up by 民政局, here or there.
    let health = q.client(QC_HEALTH).await;
    let mut ask = query("QC-2026-000074");
    ask["serviceItem"] = json!("441802-WJ-0001");
    let answer = health.pull(ask).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["outcome"], "answered", "{huadu}");
    assert_eq!(huadu["licences"], 1, "{huadu}");
    civil.close().await;
    health.close().await;
    q.stop().await;
    h.stop().await;
}

/// Licences cross only with a peer whose CA's CRL is stored and fresh: a
/// hub that lost (or never fetched) it neither asks the peer nor answers it,
/// until the next refresh brings one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licences_cross_only_with_a_fresh_crl_of_the_peers_ca() {
    for (qb, hb) in backend_pairs("licences_cross_only_with_a_fresh_crl_of_the_peers_ca").await {
        licences_cross_only_with_a_fresh_crl_of_the_peers_ca_on(qb, hb).await;
    }
}

async fn licences_cross_only_with_a_fresh_crl_of_the_peers_ca_on(qb: TestBackend, hb: TestBackend) {
    // Refreshed once at the start, then not for an hour.
    let config = ServeConfig {
        peer_refresh_every: Duration::from_secs(3600),
        ..peer_config()
    };
    let (q, h, identifier) = linked_with(qb, hb, config).await;
    let civil = q.client(QC_CIVIL).await;
    let answer = civil.pull(query("QC-2026-000080")).await.unwrap();
    assert_eq!(outcome(&answer, "440114")["licences"], 1, "{answer}");

    // 花都区 has no CRL of 清城区's CA: it refuses to answer.
    tongban_tests::execute_sql(h.database_url(), "DELETE FROM peer_crls").await;
    let answer = civil.pull(query("QC-2026-000081")).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["code"], "PEER_REFUSED", "{huadu}");
    assert!(
        huadu["message"]
            .as_str()
            .unwrap()
            .contains("PEER_CRL_MISSING"),
        "{huadu}"
    );
    // 清城区 has none of 花都区's CA either: it does not even ask.
    tongban_tests::execute_sql(q.database_url(), "DELETE FROM peer_crls").await;
    let answer = civil.pull(query("QC-2026-000082")).await.unwrap();
    let huadu = outcome(&answer, "440114");
    assert_eq!(huadu["code"], "PEER_CRL_MISSING", "{huadu}");
    // Neither side recorded a use of the licence for the refused pulls.
    let uses = h
        .hub
        .store()
        .uses_of_licence(&identifier, 10)
        .await
        .unwrap();
    assert_eq!(uses.len(), 1, "{uses:?}");
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

/// Pulls across regions wait on peers: a department holds at most its
/// share of them (4); one more is refused with `BUSY` at once, not queued,
/// while another department's pull still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_past_a_departments_share_are_refused_busy() {
    for (qb, hb) in backend_pairs("pulls_past_a_departments_share_are_refused_busy").await {
        pulls_past_a_departments_share_are_refused_busy_on(qb, hb).await;
    }
}

async fn pulls_past_a_departments_share_are_refused_busy_on(qb: TestBackend, hb: TestBackend) {
    let (q, h, _) = linked(qb, hb).await;
    const HEALTH_ITEM: &str = "441802-WJ-0001";
    put_item(
        &q.hub,
        QC_HEALTH,
        json!({
            "code": HEALTH_ITEM, "name": "公共场所卫生许可", "itemType": "承诺件",
            "legalLimitDays": 20, "promisedLimitDays": 10,
            "materials": [{"name": "营业执照", "licenceType": BUSINESS_LICENCE}],
        }),
    )
    .await;
    // 花都区 goes away: every pull now waits for it (about `waitMs`).
    h.stop().await;
    let civil = q.client(QC_CIVIL).await;
    let health = q.client(QC_HEALTH).await;
    let mut pulls = tokio::task::JoinSet::new();
    for n in 0..5 {
        let civil = civil.clone();
        pulls.spawn(async move { civil.pull(query(&format!("QC-2026-1{n:05}"))).await });
    }
    let mut asked = query("QC-2026-200000");
    asked["serviceItem"] = json!(HEALTH_ITEM);
    let other = health.pull(asked).await.unwrap();
    assert_eq!(outcome(&other, "440114")["outcome"], "failed", "{other}");
    let mut busy = 0;
    let mut answered = 0;
    while let Some(done) = pulls.join_next().await {
        match done.unwrap() {
            Ok(answer) => {
                assert_eq!(outcome(&answer, "440114")["outcome"], "failed", "{answer}");
                answered += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::Busy), "{e}");
                busy += 1;
            }
        }
    }
    assert_eq!((answered, busy), (4, 1));
    q.stop().await;
}

/// A peer's answer is checked like any envelope: one whose time is outside
/// this hub's window is not its answer (花都区's clock runs ten minutes
/// ahead, and its own window is wide enough to take 清城区's request), and
/// nothing of it is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_from_a_peer_whose_clock_is_ahead_is_refused() {
    for (qb, hb) in backend_pairs("an_answer_from_a_peer_whose_clock_is_ahead_is_refused").await {
        an_answer_from_a_peer_whose_clock_is_ahead_is_refused_on(qb, hb).await;
    }
}

async fn an_answer_from_a_peer_whose_clock_is_ahead_is_refused_on(
    qb: TestBackend,
    hb: TestBackend,
) {
    let wide = ServeConfig {
        time_window: time::Duration::hours(1),
        ..peer_config()
    };
    let (q, h, _) = linked_configured(qb, peer_config(), hb, wide).await;
    h.hub.clock().set(h.hub.now() + time::Duration::minutes(10));
    let civil = q.client(QC_CIVIL).await;
    let answer = civil.pull(query("QC-2026-000070")).await.unwrap();
    let there = outcome(&answer, "440114");
    assert_eq!(
        (&there["outcome"], &there["code"]),
        (&json!("failed"), &json!("PEER_ANSWER_INVALID")),
        "{there}"
    );
    assert_eq!(answer["payload"]["licences"], json!([]));
    civil.close().await;
    q.stop().await;
    h.stop().await;
}

/// The sum of the samples of `family` (every label set).
fn family_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_peers_trust_lists_and_licences() {
    let here = tongban_tests::backends("peers_metrics_here").await;
    let there = tongban_tests::backends("peers_metrics_there").await;
    for (qb, hb) in here.into_iter().zip(there) {
        eprintln!("peers_metrics: {}", qb.name);
        let (q_config, h_config) = (peer_config(), peer_config());
        let (q_metrics, h_metrics) = (q_config.metrics.clone(), h_config.metrics.clone());
        let (q, h, _) = linked_configured(qb, q_config, hb, h_config).await;
        let civil = q.client(QC_CIVIL).await;
        let typed: RegionLicenceQuery = serde_json::from_value(query("QC-2026-000090")).unwrap();
        civil.region_licences(&typed).await.unwrap();

        let text = q_metrics.render(&q.hub).await;
        let region = "{region=\"440114\"}";
        let valid = family_sum(&text, "tongban_peer_trust_list_valid_seconds");
        assert!(valid > 0.0, "a fresh list has time left: {text}");
        assert!(
            text.contains(&format!("tongban_peer_trust_list_age_seconds{region} ")),
            "{text}"
        );
        assert!(
            text.contains(&format!("tongban_peer_refresh_failures{region} 0")),
            "{text}"
        );
        assert_eq!(
            family_sum(&text, "tongban_licences_verified_total"),
            1.0,
            "the peer's one licence, verified here: {text}"
        );
        // 花都区 issued one licence; 清城区 none.
        let there = h_metrics.render(&h.hub).await;
        assert_eq!(family_sum(&there, "tongban_licences"), 1.0, "{there}");
        assert_eq!(family_sum(&text, "tongban_licences"), 0.0, "{text}");
        civil.close().await;
        q.stop().await;
        h.stop().await;
    }
}
