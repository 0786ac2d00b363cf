//! The resource catalogue: publish, version, retire, and search in Chinese,
//! on every backend.

use serde_json::{Value, json};
use tongban_service::{CatalogueDraft, Service};
use tongban_store::CatalogueFilter;

use crate::{CIVIL, MARKET, each_backend};

fn draft(v: Value) -> CatalogueDraft {
    let mut base = json!({
        "schema": "business-registration@1",
        "sharingType": "unconditional",
        "fields": [{"name": "uscc", "label": "统一社会信用代码"}, {"name": "entityName", "label": "名称"}]
    });
    for (k, x) in v.as_object().unwrap() {
        base[k] = x.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn ids(found: &[tongban_store::CatalogueEntry]) -> Vec<&str> {
    found.iter().map(|e| e.id.as_str()).collect()
}

async fn search(hub: &Service, q: &str) -> Vec<String> {
    let found = hub
        .catalogue_search(q, &CatalogueFilter::default(), 50)
        .await
        .unwrap();
    ids(&found).into_iter().map(str::to_owned).collect()
}

async fn sample(hub: &Service) {
    crate::publish_message_schema(hub).await;
    for (dept, d) in [
        (
            MARKET,
            json!({"id": "market-registrations", "name": "新设市场主体登记信息", "description": "新设立登记的企业、个体工商户", "tags": ["市场主体", "企业开办"], "updateFrequency": "real-time"}),
        ),
        (
            MARKET,
            json!({"id": "market-licence-scans", "name": "营业执照电子证照", "description": "电子营业执照照面信息", "tags": ["证照"], "sharingType": "不予共享"}),
        ),
        (
            MARKET,
            json!({"id": "market-annual-reports", "name": "企业年度报告公示信息", "description": "已领取营业执照的企业提交的年度报告", "tags": ["年报"], "sharingType": "有条件共享"}),
        ),
        (
            CIVIL,
            json!({"id": "civil-marriages", "name": "婚姻登记信息", "description": "结婚登记、离婚登记的办理结果", "tags": ["婚姻", "民政"], "sharingType": "conditional"}),
        ),
        (
            CIVIL,
            json!({"id": "civil-elderly-cards", "name": "老年人优待证信息", "description": "65周岁以上老年人优待证的发放记录", "tags": ["老年", "优待"], "fields": [{"name": "entityName", "label": "持证人姓名"}]}),
        ),
    ] {
        hub.catalogue_publish(dept, draft(d), false).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_search_finds_ranks_and_filters() {
    each_backend("catalogue_search", |hub| async move {
        sample(&hub).await;
        // Substrings of any length; name matches rank above description ones.
        let found = search(&hub, "营业执照").await;
        assert_eq!(found, vec!["market-licence-scans", "market-annual-reports"]);
        // Every term must occur.
        assert_eq!(search(&hub, "婚姻 登记").await, vec!["civil-marriages"]);
        assert!(search(&hub, "婚姻 营业").await.is_empty());
        // Two characters, and one.
        assert_eq!(search(&hub, "老年").await, vec!["civil-elderly-cards"]);
        let mut one = search(&hub, "证").await;
        one.sort();
        assert_eq!(
            one,
            vec!["civil-elderly-cards", "market-licence-scans"],
            "执照 has no 证"
        );
        // Field labels and tags are searched too.
        assert_eq!(search(&hub, "统一社会信用代码").await.len(), 4);
        assert_eq!(search(&hub, "持证人").await, vec!["civil-elderly-cards"]);
        assert_eq!(search(&hub, "企业开办").await, vec!["market-registrations"]);
        // Not a substring: 营照 is not in 营业执照.
        assert!(search(&hub, "营照").await.is_empty());
        // Filters: provider, sharing type (either name), region.
        let civil = CatalogueFilter {
            provider: Some(CIVIL.into()),
            ..Default::default()
        };
        let found = hub.catalogue_search("登记", &civil, 10).await.unwrap();
        assert_eq!(ids(&found), vec!["civil-marriages"]);
        let open = CatalogueFilter {
            sharing_type: Some("无条件共享".into()),
            ..Default::default()
        };
        let found = hub.catalogue_search("信息", &open, 10).await.unwrap();
        let mut open_ids = ids(&found);
        open_ids.sort();
        assert_eq!(
            open_ids,
            vec!["civil-elderly-cards", "market-registrations"]
        );
        let elsewhere = CatalogueFilter {
            region_code: Some("441802".into()),
            ..Default::default()
        };
        assert!(
            hub.catalogue_search("信息", &elsewhere, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Listing.
        let all = hub
            .catalogue_list(&CatalogueFilter::default(), 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(
            all[0].region_code, "440114",
            "the provider's region by default"
        );
        assert_eq!(
            hub.catalogue_show("civil-marriages")
                .await
                .unwrap()
                .sharing_type,
            "conditional"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_retirement_and_refusals() {
    each_backend("catalogue_versions", |hub| async move {
        sample(&hub).await;
        // A new version replaces what is searched; the history keeps both.
        let v2 = hub
            .catalogue_publish(CIVIL, draft(json!({"id": "civil-marriages", "name": "婚姻登记结果信息", "description": "结婚、离婚登记结果", "tags": ["婚姻"], "sharingType": "conditional"})), true)
            .await
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(search(&hub, "结果信息").await, vec!["civil-marriages"]);
        assert!(search(&hub, "民政").await.is_empty(), "the old tag is gone from the index");
        let history = hub.catalogue_history("civil-marriages").await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["name"], "婚姻登记信息");
        // Retired: out of searches and listings, still shown and in history.
        let retired = hub.catalogue_retire(CIVIL, "civil-marriages").await.unwrap();
        assert_eq!((retired.version, retired.status.as_str()), (3, "retired"));
        assert!(search(&hub, "婚姻").await.is_empty());
        assert_eq!(hub.catalogue_list(&CatalogueFilter::default(), 100).await.unwrap().len(), 4);
        let with_retired = CatalogueFilter { include_retired: true, ..Default::default() };
        assert_eq!(hub.catalogue_search("婚姻", &with_retired, 10).await.unwrap().len(), 1);

        // Refusals, each with its code, and nothing written.
        let head = hub.store().audit_head().await.unwrap();
        fn code<T>(r: tongban_service::Result<T>) -> &'static str {
            match r {
                Err(e) => e.code(),
                Ok(_) => "accepted",
            }
        }
        let refusals = [
            (code(hub.catalogue_publish(CIVIL, draft(json!({"id": "market-registrations", "name": "x"})), true).await), "CATALOGUE_NOT_PROVIDER"),
            (code(hub.catalogue_retire(CIVIL, "market-registrations").await), "CATALOGUE_NOT_PROVIDER"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "market-registrations", "name": "x"})), false).await), "CATALOGUE_EXISTS"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "nothing-yet", "name": "x"})), true).await), "CATALOGUE_UNKNOWN"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "a", "name": "x", "schema": "no-such@1"})), false).await), "SCHEMA_UNKNOWN"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "a", "name": "x", "fields": [{"name": "salary", "label": "工资"}]})), false).await), "CATALOGUE_FIELD_UNKNOWN"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "a", "name": "x", "sharingType": "随便"})), false).await), "CATALOGUE_SHARING_TYPE_INVALID"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "a b", "name": "x"})), false).await), "CATALOGUE_INVALID"),
            (code(hub.catalogue_publish(MARKET, draft(json!({"id": "a", "name": " "})), false).await), "CATALOGUE_INVALID"),
            (code(hub.catalogue_publish("91440114MA5TB0A01K", draft(json!({"id": "a", "name": "x"})), false).await), "DEPARTMENT_UNKNOWN"),
            (code(hub.catalogue_retire(CIVIL, "civil-marriages").await), "CATALOGUE_RETIRED"),
            (code(hub.catalogue_show("nothing-yet").await), "CATALOGUE_UNKNOWN"),
            (code(hub.catalogue_search(" ，。 ", &CatalogueFilter::default(), 10).await), "CATALOGUE_QUERY_EMPTY"),
            (code(hub.catalogue_search("信息", &CatalogueFilter { sharing_type: Some("x".into()), ..Default::default() }, 10).await), "CATALOGUE_SHARING_TYPE_INVALID"),
        ];
        for (i, (got, want)) in refusals.iter().enumerate() {
            assert_eq!(got, want, "refusal {i}");
        }
        assert_eq!(hub.store().audit_head().await.unwrap(), head, "refusals write nothing");
        assert_eq!(hub.catalogue_show("market-registrations").await.unwrap().version, 1);
        // Every publication is in the audit log, which verifies.
        let log = hub.store().audit_of("civil-marriages", 10).await.unwrap();
        let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        actions.sort();
        assert_eq!(actions, vec!["catalogue.publish", "catalogue.retire", "catalogue.update"]);
        assert!(hub.audit_verify(|_| {}).await.unwrap().ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_follows_the_sharing_type() {
    use tongban_service::AccessBasis;
    const STREET: &str = "11440114MB2C00023H";
    each_backend("catalogue_access", |hub| async move {
        sample(&hub).await;
        hub.add_department(crate::department(
            STREET,
            "花都区新华街道办事处",
            tongban_store::PlatformLevel::District,
        ))
        .await
        .unwrap();
        let now = hub.now();
        let day = time::Duration::days(1);
        fn code<T: std::fmt::Debug>(r: tongban_service::Result<T>) -> String {
            match r {
                Err(e) => e.code().to_owned(),
                Ok(v) => format!("accepted {v:?}"),
            }
        }
        // Unconditional: open to every registered department, no application.
        assert_eq!(
            hub.access_check(STREET, "market-registrations", now)
                .await
                .unwrap(),
            AccessBasis::Unconditional
        );
        assert_eq!(
            code(
                hub.access_apply(STREET, "market-registrations", "核验", now, now + day)
                    .await
            ),
            "ACCESS_NOT_REQUIRED"
        );
        // Not shared: never, and no application can open it.
        assert_eq!(
            code(hub.access_check(STREET, "market-licence-scans", now).await),
            "ACCESS_NOT_SHARED"
        );
        assert_eq!(
            code(
                hub.access_apply(STREET, "market-licence-scans", "核验", now, now + day)
                    .await
            ),
            "ACCESS_NOT_SHARED"
        );
        assert_eq!(
            hub.access_check(MARKET, "market-licence-scans", now)
                .await
                .unwrap(),
            AccessBasis::Provider
        );
        // Conditional: an application with a purpose, decided by the provider.
        assert_eq!(
            code(hub.access_check(STREET, "civil-marriages", now).await),
            "ACCESS_NOT_GRANTED"
        );
        assert_eq!(
            code(
                hub.access_apply(STREET, "civil-marriages", "  ", now, now + day)
                    .await
            ),
            "USE_CAUSE_REQUIRED"
        );
        assert_eq!(
            code(
                hub.access_apply(STREET, "civil-marriages", "核验", now, now - day)
                    .await
            ),
            "ACCESS_PERIOD_INVALID"
        );
        let a = hub
            .access_apply(
                STREET,
                "civil-marriages",
                "办理生育登记时核验婚姻状况",
                now - day,
                now + day,
            )
            .await
            .unwrap();
        assert_eq!(a.status, "pending");
        assert_eq!(
            code(hub.access_check(STREET, "civil-marriages", now).await),
            "ACCESS_NOT_GRANTED"
        );
        // Only the provider decides.
        assert_eq!(
            code(hub.access_decide(MARKET, a.id, true, None).await),
            "ACCESS_NOT_PROVIDER"
        );
        let generation = hub.store().access_generation().await.unwrap();
        let approved = hub.access_decide(CIVIL, a.id, true, None).await.unwrap();
        assert!(
            hub.store().access_generation().await.unwrap() > generation,
            "an approval moves the generation hub nodes reload on"
        );
        assert_eq!(
            (approved.status.as_str(), approved.decided_by.as_deref()),
            ("approved", Some(CIVIL))
        );
        assert_eq!(
            code(hub.access_decide(CIVIL, a.id, false, Some("x")).await),
            "ACCESS_NOT_PENDING"
        );
        assert_eq!(
            hub.access_check(STREET, "civil-marriages", now)
                .await
                .unwrap(),
            AccessBasis::Approved(a.id)
        );
        // After its period the approval no longer serves, and says so.
        assert_eq!(
            code(
                hub.access_check(STREET, "civil-marriages", now + day * 2)
                    .await
            ),
            "ACCESS_EXPIRED"
        );
        // Withdrawn: refused at once.
        hub.access_withdraw(CIVIL, a.id, Some("用途已完成"))
            .await
            .unwrap();
        assert_eq!(
            code(hub.access_check(STREET, "civil-marriages", now).await),
            "ACCESS_NOT_GRANTED"
        );
        // A rejected application grants nothing.
        let b = hub
            .access_apply(STREET, "civil-marriages", "再次申请", now, now + day)
            .await
            .unwrap();
        hub.access_decide(CIVIL, b.id, false, Some("事由不充分"))
            .await
            .unwrap();
        assert_eq!(
            code(hub.access_check(STREET, "civil-marriages", now).await),
            "ACCESS_NOT_GRANTED"
        );
        assert_eq!(
            hub.access_list(Some("civil-marriages"), None, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(code(hub.access_application(999).await), "ACCESS_UNKNOWN");
        // Retired resources serve nobody; hub nodes see the change by the
        // access generation a trigger moves.
        let before = hub.store().access_generation().await.unwrap();
        hub.catalogue_retire(MARKET, "market-registrations")
            .await
            .unwrap();
        assert!(hub.store().access_generation().await.unwrap() > before);
        assert_eq!(
            code(hub.access_check(STREET, "market-registrations", now).await),
            "CATALOGUE_RETIRED"
        );
        // The whole-catalogue rules the exchange holds in memory decide
        // the same way.
        let rules = hub.access_rules().await.unwrap();
        for (who, what, at) in [
            (STREET, "market-registrations", now),
            (STREET, "market-licence-scans", now),
            (MARKET, "market-licence-scans", now),
            (STREET, "civil-marriages", now),
            (STREET, "no-such-resource", now),
        ] {
            assert_eq!(
                rules
                    .check(who, what, at)
                    .map_err(|r| r.code.as_str().to_owned()),
                hub.access_check(who, what, at)
                    .await
                    .map_err(|e| e.code().to_owned()),
                "{who} {what}"
            );
        }
        // Every step is in the audit log.
        let log = hub.store().audit_of("civil-marriages", 20).await.unwrap();
        let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        actions.sort();
        actions.dedup();
        assert_eq!(
            actions,
            vec![
                "access.apply",
                "access.approve",
                "access.reject",
                "access.withdraw",
                "catalogue.publish"
            ]
        );
    })
    .await;
}
