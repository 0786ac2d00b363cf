//! Peer hubs of other regions: cards exchanged once by administrators.

use tongban_service::ca::CertRequest;
use tongban_service::{Clock, PeerCard, Service, ServiceConfig};

use crate::{T0, each_backend};

fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
    match r {
        Err(e) => e.code().to_owned(),
        Ok(v) => format!("accepted {v:?}"),
    }
}

/// The hub of 清城区's store in `dir` (embedded), its clock at [`T0`].
async fn qingcheng(dir: &std::path::Path) -> Service {
    Service::open(&ServiceConfig {
        clock: Clock::fixed(T0),
        ..ServiceConfig::embedded(dir)
    })
    .await
    .unwrap()
}

/// 清城区's hub set up in `dir`: its region and its CA.
async fn new_qingcheng(dir: &std::path::Path) -> Service {
    let hub = qingcheng(dir).await;
    hub.init_region("441802", "清远市清城区政务数据共享交换平台")
        .await
        .unwrap();
    hub.ca_init("清城区政务CA").await.unwrap();
    hub
}

/// 清城区's hub, on its own store: its card, and a server certificate (not a CA).
async fn other_region(dir: &std::path::Path) -> (PeerCard, String) {
    let hub = new_qingcheng(dir).await;
    let server = hub
        .ca_issue(
            CertRequest::Server {
                dns: vec!["hub.qingcheng.example".into()],
                ips: vec![],
            },
            None,
        )
        .await
        .unwrap();
    let card = hub.peer_card("hub.qingcheng.example:4433").await.unwrap();
    hub.close().await;
    (card, server.row.pem.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_added_from_cards_listed_and_removed() {
    let other = tempfile::tempdir().unwrap();
    let (card, server_pem) = other_region(other.path()).await;
    assert_eq!(card.region, "441802");
    each_backend("peers", |hub| {
        let card = card.clone();
        let server_pem = server_pem.clone();
        async move {
            hub.ca_init("花都区政务CA").await.unwrap();
            let before = hub.store().audit_head().await.unwrap().0;
            // Refusals, each writing nothing.
            let mut bad = card.clone();
            bad.address = "hub.qingcheng.example".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_ADDRESS_INVALID");
            let mut bad = card.clone();
            bad.region = "44180".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_REGION_INVALID");
            for name in ["", " 清城区", "清城区\n", &"区".repeat(201)] {
                let mut bad = card.clone();
                bad.name = name.into();
                assert_eq!(
                    code(hub.peer_add(bad).await),
                    "PEER_NAME_INVALID",
                    "{name:?}"
                );
            }
            let mut bad = card.clone();
            bad.anchor = "z6Mk-not-a-key".into();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_ANCHOR_INVALID");
            let mut bad = card.clone();
            bad.ca_pem = server_pem.clone();
            assert_eq!(code(hub.peer_add(bad).await), "PEER_CA_INVALID");
            let own = hub.peer_card("127.0.0.1:4433").await.unwrap();
            assert_eq!(code(hub.peer_add(own).await), "PEER_IS_SELF");
            assert_eq!(code(hub.peer_card("4433").await), "PEER_ADDRESS_INVALID");
            assert_eq!(hub.store().audit_head().await.unwrap().0, before);
            assert!(hub.peers().await.unwrap().is_empty());

            let added = hub.peer_add(card.clone()).await.unwrap();
            assert_eq!(
                (added.region_code.as_str(), added.status.as_str()),
                ("441802", "active")
            );
            assert_eq!(code(hub.peer_add(card.clone()).await), "PEER_EXISTS");
            let removed = hub.peer_remove("441802").await.unwrap();
            assert_eq!(removed.status, "removed");
            assert!(removed.removed_at.is_some());
            assert_eq!(code(hub.peer_remove("441802").await), "PEER_UNKNOWN");
            // A new card after removal (e.g. a rotated anchor) is accepted.
            hub.peer_add(card.clone()).await.unwrap();
            let peers = hub.peers().await.unwrap();
            assert_eq!(peers.len(), 1);
            assert_eq!(peers[0].anchor, card.anchor);
            let log = hub.store().audit_of("441802", 10).await.unwrap();
            let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
            actions.sort();
            assert_eq!(actions, ["peer.add", "peer.add", "peer.remove"]);
        }
    })
    .await;
}

/// 清城区's hub with a market regulator that issues 营业执照.
/// 清城区's 市场监督管理局: a code registered in 441802.
const QC_MARKET: &str = "11441802MB2C000070";

async fn issuing_region(dir: &std::path::Path) -> Service {
    let hub = new_qingcheng(dir).await;
    register(&hub, QC_MARKET, "清远市清城区市场监督管理局", "441802").await;
    crate::publish_types(&hub, &crate::schemas_dir()).await;
    hub
}

fn verify(
    trust: &tongban_licence::verify::Trust,
    licence: &serde_json::Value,
    now: time::OffsetDateTime,
) -> tongban_licence::verify::Verification {
    tongban_licence::verify(
        trust,
        licence.clone(),
        tongban_licence::verify::VerifyOptions {
            now,
            attachments: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_trust_lists_are_checked_stored_refreshed_and_go_stale() {
    each_backend("peer_trust", |hub| {
        async move {
            // A fresh issuing region for each backend.
            let other = tempfile::tempdir().unwrap();
            let issuer = issuing_region(other.path()).await;
            let card = issuer.peer_card("127.0.0.1:4433").await.unwrap();
            let first = issuer
                .issue(QC_MARKET, crate::business_licence())
                .await
                .unwrap();
            let identifier = first.identifier.as_str().to_owned();
            let first = first.credential.clone();
            hub.ca_init("花都区政务CA").await.unwrap();
            assert_eq!(code(hub.peer_trust("441802").await), "PEER_UNKNOWN");
            hub.peer_add(card.clone()).await.unwrap();
            assert_eq!(code(hub.peer_trust("441802").await), "TRUST_LIST_MISSING");
            hub.peer_trust_failed("441802", "PEER_UNREACHABLE", "down")
                .await
                .unwrap();
            let missing = hub.peer_trust("441802").await.unwrap_err().to_string();
            assert!(missing.contains("PEER_UNREACHABLE: down"), "{missing}");

            // A genuine list is stored; the licence verifies with it offline.
            issuer.clock().set(T0);
            let list = issuer.trust_list(time::Duration::days(1)).await.unwrap();
            let stored = hub.peer_trust_accept("441802", &list).await.unwrap();
            assert_eq!((stored.failures, stored.failure.as_deref()), (0, None));
            let trust = hub.peer_trust("441802").await.unwrap();
            let v = verify(&trust.trust, &first, T0);
            assert!(v.valid, "{:?}", v.problems);

            // Tampered: refused, the stored list stays.
            let mut tampered = list.clone();
            tampered["validUntil"] = serde_json::json!("2099-01-01T00:00:00Z");
            assert_eq!(
                code(hub.peer_trust_accept("441802", &tampered).await),
                "TRUST_LIST_UNTRUSTED"
            );
            let mut forged = list.clone();
            forged["credentialSubject"]["issuers"] = serde_json::json!([]);
            assert_eq!(
                code(hub.peer_trust_accept("441802", &forged).await),
                "TRUST_LIST_UNTRUSTED"
            );
            // Not a trust list at all, or one without its proof.
            let mut unsigned = list.clone();
            unsigned.as_object_mut().unwrap().remove("proof");
            for malformed in [serde_json::json!(["a list"]), first.clone(), unsigned] {
                assert_eq!(
                    code(hub.peer_trust_accept("441802", &malformed).await),
                    "TRUST_LIST_INVALID"
                );
            }
            assert_eq!(hub.peer_trust("441802").await.unwrap().sha256, trust.sha256);

            // Revocation there: the stored list still says 现势 (offline,
            // until the next refresh); the next list says 注销.
            issuer
                .revoke(&identifier, "admin", "营业执照已注销")
                .await
                .unwrap();
            let later = T0 + time::Duration::minutes(1);
            hub.clock().set(later);
            issuer.clock().set(later);
            let before = hub.peer_trust("441802").await.unwrap();
            assert!(verify(&before.trust, &first, later).valid);
            let list = issuer.trust_list(time::Duration::days(1)).await.unwrap();
            hub.peer_trust_accept("441802", &list).await.unwrap();
            let list_before_rotation = list.clone();
            let after = hub.peer_trust("441802").await.unwrap();
            let v = verify(&after.trust, &first, later);
            assert!(!v.valid);
            assert_eq!(v.status, Some(tongban_licence::LicenceStatus::Revoked));

            // Rotation there: a licence signed with the new key fails with
            // the stored list and verifies after the next refresh.
            let (_, old) = issuer
                .current_key(QC_MARKET, tongban_seal::KeyPurpose::Issue)
                .await
                .unwrap();
            issuer
                .rotate_key(&old.public.to_multikey(), time::Duration::ZERO)
                .await
                .unwrap();
            let rotated_at = later + time::Duration::minutes(1);
            hub.clock().set(rotated_at);
            issuer.clock().set(rotated_at);
            let second = issuer
                .issue(QC_MARKET, crate::business_licence())
                .await
                .unwrap()
                .credential;
            let stored = hub.peer_trust("441802").await.unwrap();
            assert!(!verify(&stored.trust, &second, rotated_at).valid);
            let list = issuer.trust_list(time::Duration::days(1)).await.unwrap();
            hub.peer_trust_accept("441802", &list).await.unwrap();
            let fresh = hub.peer_trust("441802").await.unwrap();
            let v = verify(&fresh.trust, &second, rotated_at);
            assert!(v.valid, "{:?}", v.problems);

            // An older list (still within its validity) is not taken back.
            assert_eq!(
                code(hub.peer_trust_accept("441802", &list_before_rotation).await),
                "TRUST_LIST_ROLLBACK"
            );
            assert_eq!(hub.peer_trust("441802").await.unwrap().sha256, fresh.sha256);

            // A list valid for a minute goes stale: never used after.
            let short = issuer.trust_list(time::Duration::minutes(1)).await.unwrap();
            hub.peer_trust_accept("441802", &short).await.unwrap();
            hub.clock().set(rotated_at + time::Duration::minutes(2));
            assert_eq!(code(hub.peer_trust("441802").await), "TRUST_LIST_STALE");
            assert_eq!(
                code(hub.peer_trust_accept("441802", &short).await),
                "TRUST_LIST_STALE"
            );
            let states = hub.peer_trust_states().await.unwrap();
            assert_eq!(states.len(), 1);
            // Removed: nothing of it is used.
            hub.peer_remove("441802").await.unwrap();
            assert_eq!(code(hub.peer_trust("441802").await), "PEER_UNKNOWN");
            issuer.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_crl_is_kept_for_the_ca_on_its_card() {
    let other = tempfile::tempdir().unwrap();
    let (card, _) = other_region(other.path()).await;
    // Its CRL twice (signed anew each time), then after it revoked its
    // server certificate.
    let (crl, crl_again, crl_revoked, crl_revoked_later, server_der) = {
        let hub = qingcheng(other.path()).await;
        let crl = hub.ca_crl().await.unwrap();
        let crl_again = hub.ca_crl().await.unwrap();
        let server = hub
            .ca_list()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.kind == "server")
            .unwrap();
        hub.ca_revoke(&server.serial, "keyCompromise")
            .await
            .unwrap();
        let crl_revoked = hub.ca_crl().await.unwrap();
        // A day later: the same revocations, relied on a day longer.
        hub.clock().set(T0 + time::Duration::days(1));
        let crl_revoked_later = hub.ca_crl().await.unwrap();
        hub.close().await;
        use rustls::pki_types::pem::PemObject;
        let server_der = rustls::pki_types::CertificateDer::from_pem_slice(server.pem.as_bytes())
            .unwrap()
            .to_vec();
        (crl, crl_again, crl_revoked, crl_revoked_later, server_der)
    };
    assert_ne!(crl, crl_again);
    // A bit of its signature changed.
    let tampered = {
        let mut lines: Vec<String> = crl.lines().map(str::to_owned).collect();
        let last = lines.len() - 2;
        let mut body: Vec<char> = lines[last].chars().collect();
        body[1] = if body[1] == 'A' { 'B' } else { 'A' };
        lines[last] = body.into_iter().collect();
        lines.join("\n") + "\n"
    };
    // The same region's hub set up again: another CA on its next card.
    let again = tempfile::tempdir().unwrap();
    let (new_card, _) = other_region(again.path()).await;
    each_backend("peer_crls", |hub| {
        let (card, new_card, crl) = (card.clone(), new_card.clone(), crl.clone());
        let (crl_again, crl_revoked) = (crl_again.clone(), crl_revoked.clone());
        let (crl_revoked_later, server_der) = (crl_revoked_later.clone(), server_der.clone());
        let tampered = tampered.clone();
        async move {
            hub.ca_init("花都区政务CA").await.unwrap();
            hub.clock().set(T0);
            assert_eq!(
                code(hub.peer_crl_accept("441802", &crl).await),
                "PEER_UNKNOWN"
            );
            hub.peer_add(card.clone()).await.unwrap();
            // No CRL yet: unknown revocation status is not fine.
            assert_eq!(
                code(hub.peer_crl_check("441802", None).await),
                "PEER_CRL_MISSING"
            );
            // Not a CRL, and another CA's CRL (this hub's own).
            assert_eq!(
                code(hub.peer_crl_accept("441802", "not a CRL").await),
                "PEER_CRL_INVALID"
            );
            assert_eq!(
                code(hub.peer_crl_accept("441802", &card.ca_pem).await),
                "PEER_CRL_INVALID"
            );
            let own = hub.ca_crl().await.unwrap();
            assert_eq!(
                code(hub.peer_crl_accept("441802", &own).await),
                "PEER_CRL_INVALID"
            );
            // Its signature broken, or two CRLs in one.
            let e = hub.peer_crl_accept("441802", &tampered).await.unwrap_err();
            assert_eq!(e.code(), "PEER_CRL_INVALID");
            assert!(e.to_string().contains("not signed by the CA"), "{e}");
            let two = format!("{crl}{crl_again}");
            assert_eq!(
                code(hub.peer_crl_accept("441802", &two).await),
                "PEER_CRL_INVALID"
            );
            assert_eq!(hub.peer_cas().await.unwrap()[0].2, None);
            // The peer's own: stored once, and used with its CA. Signed
            // anew but revoking the same, it changes nothing.
            assert!(hub.peer_crl_accept("441802", &crl).await.unwrap());
            assert!(!hub.peer_crl_accept("441802", &crl).await.unwrap());
            assert!(!hub.peer_crl_accept("441802", &crl_again).await.unwrap());
            assert_eq!(
                hub.peer_cas().await.unwrap(),
                [("441802".to_owned(), card.ca_pem.clone(), Some(crl.clone()))]
            );
            // A bad one later keeps the stored one.
            assert_eq!(
                code(hub.peer_crl_accept("441802", &tampered).await),
                "PEER_CRL_INVALID"
            );
            assert_eq!(hub.peer_cas().await.unwrap()[0].2, Some(crl.clone()));
            // A new revocation replaces it.
            assert!(hub.peer_crl_accept("441802", &crl_revoked).await.unwrap());
            assert_eq!(
                hub.peer_cas().await.unwrap()[0].2,
                Some(crl_revoked.clone())
            );
            // Fresh: the peer may be used, except with the revoked certificate.
            hub.peer_crl_check("441802", None).await.unwrap();
            assert_eq!(
                code(hub.peer_crl_check("441802", Some(&server_der)).await),
                "PEER_CERTIFICATE_REVOKED"
            );
            // The same revocations, relied on longer: stored (no change to
            // the TLS configuration), and used past the first's nextUpdate.
            assert!(
                !hub.peer_crl_accept("441802", &crl_revoked_later)
                    .await
                    .unwrap()
            );
            assert_eq!(
                hub.peer_cas().await.unwrap()[0].2,
                Some(crl_revoked_later.clone())
            );
            assert!(!hub.peer_crl_accept("441802", &crl_revoked).await.unwrap());
            assert_eq!(
                hub.peer_cas().await.unwrap()[0].2,
                Some(crl_revoked_later.clone())
            );
            hub.clock()
                .set(T0 + time::Duration::days(7) + time::Duration::hours(1));
            hub.peer_crl_check("441802", None).await.unwrap();
            // Past its nextUpdate: stale, and a stale CRL is not taken.
            hub.clock().set(T0 + time::Duration::days(9));
            assert_eq!(
                code(hub.peer_crl_check("441802", None).await),
                "PEER_CRL_STALE"
            );
            assert_eq!(
                code(hub.peer_crl_accept("441802", &crl_revoked_later).await),
                "PEER_CRL_STALE"
            );
            // A new card with another CA: the old CA's CRL is not used.
            hub.peer_remove("441802").await.unwrap();
            assert!(hub.peer_cas().await.unwrap().is_empty());
            hub.peer_add(new_card.clone()).await.unwrap();
            assert_eq!(
                hub.peer_cas().await.unwrap(),
                [("441802".to_owned(), new_card.ca_pem.clone(), None)]
            );
            assert_eq!(
                code(hub.peer_crl_check("441802", None).await),
                "PEER_CRL_MISSING"
            );
        }
    })
    .await;
}

/// Registers a department with a key in `hub`.
async fn register(hub: &Service, code: &str, name: &str, region: &str) {
    hub.add_department(tongban_service::NewDepartment {
        code: code.into(),
        name: name.into(),
        region_code: region.into(),
        platform_level: tongban_store::PlatformLevel::District,
        parent_code: None,
        contact: None,
    })
    .await
    .unwrap();
    hub.new_signing_key(code, tongban_seal::KeyPurpose::Issue, None)
        .await
        .unwrap();
}

/// A peer (清城区) that lists a key for one of this region's departments, or
/// for another region's body, would present licences "issued" by them: its
/// list is refused and the stored one stays. Its catalogue names its own
/// region's providers only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_speaks_for_its_own_region_only() {
    // 清远市's bureau (registered at the city, 441800), and 南县's (430921).
    const CITY_BUREAU: &str = "11441800MB2C00031K";
    const NANXIAN_BUREAU: &str = "11430921MB2C00031M";
    each_backend("peer_own_region", |hub| {
        async move {
            hub.ca_init("花都区政务CA").await.unwrap();
            hub.clock().set(T0);
            // Each case on a fresh 清城区 hub whose list speaks for `body`
            // besides its own 市场监督管理局.
            for (body, expect) in [
                (crate::MARKET, "TRUST_LIST_FOREIGN_ISSUER"),
                (NANXIAN_BUREAU, "TRUST_LIST_FOREIGN_ISSUER"),
                (CITY_BUREAU, "ok"),
            ] {
                let other = tempfile::tempdir().unwrap();
                let issuer = issuing_region(other.path()).await;
                issuer.clock().set(T0);
                let _ = hub.peer_remove("441802").await;
                hub.peer_add(issuer.peer_card("127.0.0.1:4433").await.unwrap())
                    .await
                    .unwrap();
                let genuine = issuer.trust_list(time::Duration::days(1)).await.unwrap();
                hub.peer_trust_accept("441802", &genuine).await.unwrap();
                let stored = hub.peer_trust("441802").await.unwrap().sha256;
                register(&issuer, body, "冒名单位", "441802").await;
                let list = issuer.trust_list(time::Duration::days(1)).await.unwrap();
                let got = match hub.peer_trust_accept("441802", &list).await {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code().to_owned(),
                };
                assert_eq!(got, expect, "{body}");
                if expect != "ok" {
                    assert_eq!(hub.peer_trust("441802").await.unwrap().sha256, stored);
                }
                issuer.close().await;
            }
            // The city's bureau, which the stored list speaks for, becomes
            // one of this region's departments too: the list is no longer
            // used.
            assert!(hub.peer_trust("441802").await.is_ok());
            register(&hub, CITY_BUREAU, "清远市某局", "440114").await;
            assert_eq!(
                code(hub.peer_trust("441802").await),
                "TRUST_LIST_FOREIGN_ISSUER"
            );

            // The catalogue: providers of the peer's region only.
            let resource = |provider: &str| {
                serde_json::json!({
                    "region": "441802", "id": "market-entities", "version": 1,
                    "name": "市场主体公示信息", "description": "", "provider": provider,
                    "schema": "business-registration@1", "fields": [],
                    "sharingType": "unconditional", "updateFrequency": "", "tags": [],
                    "schemaDocument": {"type": "object"},
                })
            };
            assert_eq!(
                hub.peer_catalogue_accept("441802", &[resource(QC_MARKET)])
                    .await
                    .unwrap(),
                1
            );
            // Within the limits of a resource published here: accepted;
            // one character or one tag over: the list is refused.
            let mut largest = resource(QC_MARKET);
            largest["description"] = "述".repeat(4_000).into();
            largest["tags"] = (0..32).map(|i| format!("{i}{}", "签".repeat(48))).collect();
            assert_eq!(
                hub.peer_catalogue_accept("441802", &[largest.clone()])
                    .await
                    .unwrap(),
                1
            );
            let mut longer = largest.clone();
            longer["description"] = "述".repeat(4_001).into();
            let mut more = largest.clone();
            more["tags"].as_array_mut().unwrap().push("多".into());
            for over in [longer, more] {
                assert_eq!(
                    code(hub.peer_catalogue_accept("441802", &[over]).await),
                    "PEER_CATALOGUE_INVALID"
                );
            }
            for provider in [crate::MARKET, NANXIAN_BUREAU, CITY_BUREAU, "not-a-code"] {
                assert_eq!(
                    code(
                        hub.peer_catalogue_accept("441802", &[resource(provider)])
                            .await
                    ),
                    "PEER_CATALOGUE_FOREIGN_PROVIDER",
                    "{provider}"
                );
            }
        }
    })
    .await;
}
