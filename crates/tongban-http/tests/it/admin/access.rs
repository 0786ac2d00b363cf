//! `/v1/access`: applications made for the department acted for, listed
//! and read by the departments party to them, decided by the resource's
//! provider only, and the access check; audited with the caller; refusals
//! write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use tongban_service::samples;

use super::areas::Call;
use super::catalogue::{by, detail};
use super::{Tokens, asking};
use crate::{Served, each_served};

/// Publishes `id`, provided by `provider`, shared as `sharing`.
async fn publish(served: &Served, provider: &str, id: &str, sharing: &str) {
    let draft = serde_json::from_value(json!({
        "id": id, "name": "共享测试资源", "schema": "business-registration@1", "sharingType": sharing,
    }))
    .unwrap();
    served
        .hub
        .catalogue_publish(provider, draft, false)
        .await
        .unwrap();
}

/// An application of `consumer` for `resource`, made on the hub: its number.
async fn applied(served: &Served, consumer: &str, resource: &str) -> u64 {
    let now = served.hub.now();
    served
        .hub
        .access_apply(
            consumer,
            resource,
            "矩阵测试",
            now,
            now + time::Duration::days(30),
        )
        .await
        .unwrap()
        .id
}

/// Half a year from now, in RFC 3339: the end of a period the service takes.
fn until(served: &Served) -> String {
    tongban_seal::timefmt::format_rfc3339(served.hub.now() + time::Duration::days(180))
}

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn applications_are_made_listed_by_party_and_decided_by_the_provider() {
    each_served(
        "http_admin_access",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            publish(&served, samples::CIVIL_AFFAIRS, "civil-marriages", "conditional").await;
            publish(&served, samples::DATA_BUREAU, "data-population", "conditional").await;
            // An operator applies for its own department.
            let mine = served
                .call(
                    &tokens.market,
                    Method::POST,
                    "/v1/access/applications",
                    Some(&json!({"resource": "civil-marriages", "purpose": "核验企业法定代表人婚姻状况", "validUntil": until(&served)})),
                )
                .await;
            assert_eq!(mine.status(), 201);
            let mine: Value = mine.json().await.unwrap();
            assert_eq!(mine["consumer"], samples::MARKET);
            assert_eq!(mine["status"], "pending");
            assert_eq!(mine["purpose"], "核验企业法定代表人婚姻状况");
            let mine = mine["id"].as_u64().unwrap();
            // The administrator applies for the department it names.
            let planning = served
                .call(
                    &tokens.admin,
                    Method::POST,
                    "/v1/access/applications",
                    Some(&json!({"department": samples::PLANNING, "resource": "civil-marriages", "purpose": "规划许可审查", "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2027-01-01T00:00:00Z"})),
                )
                .await;
            assert_eq!(planning.status(), 201);
            let planning: Value = planning.json().await.unwrap();
            assert_eq!(planning["validFrom"], "2026-01-01T00:00:00Z");
            let planning = planning["id"].as_u64().unwrap();
            // Neither the market bureau's nor civil affairs'.
            let others = applied(&served, samples::PLANNING, "data-population").await;

            // Each department lists what it is party to: its own, and those
            // on its resources; the administrator all, or one party's.
            assert_eq!(ids(&served.read(&tokens.market, "/v1/access/applications").await), [mine]);
            assert_eq!(ids(&served.read(&tokens.civil, "/v1/access/applications").await), [planning, mine]);
            let all = served.read(&tokens.admin, "/v1/access/applications").await;
            assert_eq!(ids(&all), [others, planning, mine]);
            let civil = format!("/v1/access/applications?department={}", samples::CIVIL_AFFAIRS);
            assert_eq!(ids(&served.read(&tokens.admin, &civil).await), [planning, mine]);
            let by_consumer = format!("/v1/access/applications?consumer={}", samples::PLANNING);
            assert_eq!(ids(&served.read(&tokens.admin, &by_consumer).await), [others, planning]);
            let on = "/v1/access/applications?resource=civil-marriages&limit=1";
            let first = served.read(&tokens.admin, on).await;
            assert_eq!(ids(&first), [planning]);
            assert_eq!(first["next"], 1);
            let second = served.read(&tokens.admin, &format!("{on}&offset=1")).await;
            assert_eq!(ids(&second), [mine]);
            assert_eq!(second["next"], Value::Null);
            // Each party reads it.
            let path = format!("/v1/access/applications/{mine}");
            assert_eq!(served.read(&tokens.market, &path).await["id"], mine);
            assert_eq!(served.read(&tokens.civil, &path).await["resource"], "civil-marriages");

            // Not yet approved: a "no" with the rule's code.
            let check = "/v1/access/check?resource=civil-marriages";
            let no = served.read(&tokens.market, check).await;
            assert_eq!(no, json!({"allowed": false, "code": "ACCESS_NOT_GRANTED", "message": no["message"]}));
            // The provider decides.
            let approved = served
                .call(&tokens.civil, Method::POST, &format!("{path}/approve"), Some(&json!({})))
                .await;
            assert_eq!(approved.status(), 200);
            let approved: Value = approved.json().await.unwrap();
            assert_eq!(approved["status"], "approved");
            assert_eq!(approved["decidedBy"], samples::CIVIL_AFFAIRS);
            let yes = served.read(&tokens.market, check).await;
            assert_eq!(yes, json!({"allowed": true, "basis": {"kind": "approved", "application": mine}}));
            let provider = format!("{check}&consumer={}", samples::CIVIL_AFFAIRS);
            let own = served.read(&tokens.admin, &provider).await;
            assert_eq!(own["basis"]["kind"], "provider");
            let rejected = served
                .call(&tokens.admin, Method::POST, &format!("/v1/access/applications/{planning}/reject"), Some(&json!({"department": samples::CIVIL_AFFAIRS, "reason": "用途不符"})))
                .await;
            assert_eq!(rejected.status(), 200);
            let rejected: Value = rejected.json().await.unwrap();
            assert_eq!(rejected["status"], "rejected");
            assert_eq!(rejected["reason"], "用途不符");
            let withdrawn = served
                .call(&tokens.civil, Method::POST, &format!("{path}/withdraw"), Some(&json!({"reason": "合作结束"})))
                .await;
            assert_eq!(withdrawn.status(), 200);
            assert_eq!(served.read(&tokens.market, check).await["allowed"], false);

            // Every step is a party's, and names the token that asked.
            let entries = served.hub.store().audit_of("civil-marriages", 10).await.unwrap();
            let steps: Vec<(&str, &str, Value)> = entries
                .iter()
                .map(|e| (e.action.as_str(), e.actor.as_str(), detail(&e.detail)["by"].clone()))
                .collect();
            let (market, civil, planning) = (samples::MARKET, samples::CIVIL_AFFAIRS, samples::PLANNING);
            assert_eq!(
                steps,
                [
                    ("access.withdraw", civil, json!(by(&tokens.civil))),
                    ("access.reject", civil, json!(by(&tokens.admin))),
                    ("access.approve", civil, json!(by(&tokens.civil))),
                    ("access.apply", planning, json!(by(&tokens.admin))),
                    ("access.apply", market, json!(by(&tokens.market))),
                    ("catalogue.publish", civil, Value::Null),
                ]
            );
            let reject = detail(&entries[1].detail);
            assert_eq!(reject["consumer"], samples::PLANNING);
            served
        },
    )
    .await;
}

#[tokio::test]
async fn access_refusals_have_their_codes_and_write_nothing() {
    each_served(
        "http_admin_access_bad",
        |_| {},
        |served| async move {
            let tokens = Tokens::make(&served).await;
            publish(
                &served,
                samples::CIVIL_AFFAIRS,
                "civil-marriages",
                "conditional",
            )
            .await;
            publish(
                &served,
                samples::CIVIL_AFFAIRS,
                "civil-elderly",
                "unconditional",
            )
            .await;
            publish(
                &served,
                samples::DATA_BUREAU,
                "data-population",
                "conditional",
            )
            .await;
            let mine = applied(&served, samples::MARKET, "civil-marriages").await;
            let others = applied(&served, samples::PLANNING, "data-population").await;
            let (admin, market, civil) = (
                asking(&tokens.admin),
                asking(&tokens.market),
                asking(&tokens.civil),
            );
            let (auditor, verifier) = (asking(&tokens.auditor), asking(&tokens.verifier));
            let applications = "/v1/access/applications";
            let approve = format!("{applications}/{mine}/approve");
            let as_civil = json!({"department": samples::CIVIL_AFFAIRS});
            let until = until(&served);
            let until = until.as_str();
            // An application for civil affairs' marriages, with `changes`.
            let application = |changes: Value| {
                let mut body =
                    json!({"resource": "civil-marriages", "purpose": "核验", "validUntil": until});
                for (member, value) in changes.as_object().unwrap() {
                    body[member] = value.clone();
                }
                body
            };
            let apply = |changes: Value| market.post(applications, application(changes));
            let undated = json!({"resource": "civil-marriages", "purpose": "核验"});
            // For another department, on a resource of a third.
            let elsewhere =
                json!({"department": samples::CIVIL_AFFAIRS, "resource": "data-population"});
            let theirs = format!("{applications}?department={}", samples::CIVIL_AFFAIRS);
            let check = "/v1/access/check";
            let for_planning = format!(
                "{check}?resource=civil-marriages&consumer={}",
                samples::PLANNING
            );
            served
                .refused_each(&[
                    // Only the provider decides, as its own department.
                    market
                        .post(&approve, json!({}))
                        .refused(403, "ACCESS_NOT_PROVIDER"),
                    market
                        .post(&approve, as_civil.clone())
                        .refused(403, "FORBIDDEN"),
                    auditor
                        .post(&approve, as_civil.clone())
                        .refused(403, "FORBIDDEN"),
                    admin
                        .post(&approve, json!({}))
                        .refused(400, "REQUEST_INVALID"),
                    civil
                        .post(
                            format!("{applications}/{mine}/withdraw"),
                            json!({"reason": "x"}),
                        )
                        .refused(400, "ACCESS_NOT_PENDING"),
                    civil
                        .post(format!("{applications}/{mine}/reject"), json!({}))
                        .refused(400, "REQUEST_INVALID"),
                    civil
                        .post(format!("{applications}/999/approve"), json!({}))
                        .refused(404, "ACCESS_UNKNOWN"),
                    civil
                        .post(format!("{applications}/one/approve"), json!({}))
                        .refused(400, "REQUEST_INVALID"),
                    // Applications: the service's own codes, and bad bodies.
                    apply(json!({"validFrom": until, "validUntil": "2026-01-01T00:00:00Z"}))
                        .refused(400, "ACCESS_PERIOD_INVALID"),
                    apply(json!({"validUntil": "2099-01-01T00:00:00Z"}))
                        .refused(400, "ACCESS_PERIOD_INVALID"),
                    apply(json!({"validUntil": "next year"})).refused(400, "REQUEST_INVALID"),
                    market
                        .post(applications, undated)
                        .refused(400, "REQUEST_INVALID"),
                    apply(json!({"purpose": "  "})).refused(400, "USE_CAUSE_REQUIRED"),
                    apply(json!({"resource": "civil-elderly"})).refused(400, "ACCESS_NOT_REQUIRED"),
                    apply(json!({"resource": "unknown"})).refused(404, "CATALOGUE_UNKNOWN"),
                    apply(json!({"days": 30})).refused(400, "REQUEST_INVALID"),
                    apply(elsewhere).refused(403, "FORBIDDEN"),
                    verifier
                        .post(applications, application(json!({})))
                        .refused(403, "FORBIDDEN"),
                    // Reads: only the parties, and only operators and administrators.
                    civil
                        .get(format!("{applications}/{others}"))
                        .refused(403, "FORBIDDEN"),
                    auditor
                        .get(format!("{applications}/{mine}"))
                        .refused(403, "FORBIDDEN"),
                    market
                        .get(format!("{applications}/999"))
                        .refused(404, "ACCESS_UNKNOWN"),
                    market.get(&theirs).refused(403, "FORBIDDEN"),
                    auditor.get(applications).refused(403, "FORBIDDEN"),
                    admin
                        .get(format!("{applications}?offset=990&limit=20"))
                        .refused(400, "REQUEST_INVALID"),
                    admin
                        .get(format!("{applications}?status=pending"))
                        .refused(400, "REQUEST_INVALID"),
                    // The check: for one's own department, of a resource that exists.
                    market.get(&for_planning).refused(403, "FORBIDDEN"),
                    admin
                        .get(format!("{check}?resource=civil-marriages"))
                        .refused(400, "REQUEST_INVALID"),
                    market
                        .get(format!("{check}?resource=unknown"))
                        .refused(404, "CATALOGUE_UNKNOWN"),
                    market.get(check).refused(400, "REQUEST_INVALID"),
                ])
                .await;
            served
        },
    )
    .await;
}

/// The sample calls of this area, for the role matrix.
pub async fn calls(served: &Served) -> Vec<Call> {
    let (market, civil) = (samples::MARKET, samples::CIVIL_AFFAIRS);
    publish(served, market, "matrix-access", "conditional").await;
    // Applications of a third department, so that the market bureau is the
    // only party among the operators.
    let shown = applied(served, samples::PLANNING, "matrix-access").await;
    let to_approve = applied(served, samples::PLANNING, "matrix-access").await;
    let to_reject = applied(served, samples::PLANNING, "matrix-access").await;
    let to_withdraw = applied(served, samples::PLANNING, "matrix-access").await;
    served
        .hub
        .access_decide(market, to_withdraw, true, None)
        .await
        .unwrap();
    let path = |id: u64, what: &str| format!("/v1/access/applications/{id}{what}");
    vec![
        Call::get("/v1/access/applications", "/v1/access/applications?limit=5"),
        Call::post(
            "/v1/access/applications",
            "/v1/access/applications",
            json!({"department": civil, "resource": "matrix-access", "purpose": "矩阵测试", "validUntil": until(served)}),
        )
        .about(civil),
        Call::get("/v1/access/applications/{id}", path(shown, "")).about(market),
        Call::post(
            "/v1/access/applications/{id}/approve",
            path(to_approve, "/approve"),
            json!({"department": market}),
        )
        .about(market),
        Call::post(
            "/v1/access/applications/{id}/reject",
            path(to_reject, "/reject"),
            json!({"department": market, "reason": "矩阵测试"}),
        )
        .about(market),
        Call::post(
            "/v1/access/applications/{id}/withdraw",
            path(to_withdraw, "/withdraw"),
            json!({"department": market, "reason": "矩阵测试"}),
        )
        .about(market),
        Call::get(
            "/v1/access/check",
            format!("/v1/access/check?resource=matrix-access&consumer={civil}"),
        )
        .about(civil),
    ]
}
