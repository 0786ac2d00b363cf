//! The catalogue searched in Chinese, a resource's page, an application
//! for access made by one department's operator and approved by the
//! provider's, each seeing only the buttons its side has.

use serde_json::json;
use tongban_service::samples;

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

#[tokio::test]
async fn the_catalogue_is_searched_in_chinese_and_access_applied_for_and_approved() {
    each_served(
        "http_console_catalogue",
        |_| {},
        |served| async move {
            let test = "the_catalogue_is_searched_in_chinese_and_access_applied_for_and_approved";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            for (id, name, sharing) in [
                (
                    "market.entity-registrations",
                    "市场主体登记信息",
                    "conditional",
                ),
                (
                    "market.inspection-results",
                    "双随机抽查结果",
                    "unconditional",
                ),
            ] {
                let draft = serde_json::from_value(json!({
                    "id": id, "name": name, "description": "花都区市场主体的登记与变更",
                    "schema": "business-registration@1", "sharingType": sharing,
                    "fields": [{"name": "uscc", "label": "统一社会信用代码"}], "tags": ["市场监管"],
                }))
                .unwrap();
                served
                    .hub
                    .catalogue_publish(samples::MARKET, draft, false)
                    .await
                    .unwrap();
            }

            // Civil affairs searches in Chinese and applies.
            console.sign_in(&tokens.civil).await;
            console.go("/catalogue").await;
            console
                .type_into("#search-form [name='q']", "登记信息")
                .await;
            console.click("#search-form button[type='submit']").await;
            let found = console
                .text_with("#catalogue-results", "市场主体登记信息")
                .await;
            assert!(!found.contains("双随机抽查结果"), "{found}");
            assert!(found.contains("有条件共享"), "{found}");
            console.screenshot("catalogue-search").await;
            // A filter narrows the list: nothing conditional about 抽查.
            console.go("/catalogue?q=抽查&sharing=conditional").await;
            console.text_with("#catalogue-results", "没有记录").await;

            console.go("/catalogue/market.entity-registrations").await;
            console.text_with("#sharing", "有条件共享").await;
            console.screenshot("catalogue-resource").await;
            // The form is checked before anything is sent.
            console.click("#apply-submit").await;
            console
                .text_with("[data-error-for='purpose']", "USE_CAUSE_REQUIRED")
                .await;
            console
                .type_into(
                    "#apply-form [name='purpose']",
                    "核查婚姻登记当事人的企业任职情况",
                )
                .await;
            console.click("#apply-submit").await;
            console.text_with("main .notice", "已提交").await;
            let row = console
                .text_with("main table", "market.entity-registrations")
                .await;
            assert!(row.contains("待审核"), "{row}");
            // The applicant cannot decide its own application.
            assert!(!console.has("[data-approve]").await);
            let pending = served
                .hub
                .access_list_involving(Some(samples::CIVIL_AFFAIRS), None, None, 10)
                .await
                .unwrap();
            assert_eq!(pending.len(), 1);
            assert_eq!(pending[0].status, "pending");
            let id = pending[0].id;
            console.sign_out().await;

            // The market bureau, the provider, approves.
            console.sign_in(&tokens.market).await;
            console.go("/access").await;
            console.click(&format!("[data-approve='{id}']")).await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(
                asked.contains(samples::CIVIL_AFFAIRS)
                    && asked.contains("market.entity-registrations"),
                "{asked}"
            );
            console.screenshot("access-confirm").await;
            console.confirm(None).await;
            console
                .text_with(&format!("[data-application='{id}']"), "已批准")
                .await;
            console.screenshot("access-approved").await;
            let decided = served
                .hub
                .access_list_involving(Some(samples::CIVIL_AFFAIRS), None, None, 10)
                .await
                .unwrap();
            assert_eq!(decided[0].status, "approved");
            // And may withdraw it now, not approve it again.
            assert!(console.has(&format!("[data-withdraw='{id}']")).await);
            assert!(!console.has(&format!("[data-approve='{id}']")).await);
            console.click(&format!("[data-withdraw='{id}']")).await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(asked.contains("不能再使用"), "{asked}");
            console.confirm(Some("共享协议到期")).await;
            console
                .text_with(&format!("[data-application='{id}']"), "已撤回")
                .await;

            // A second application, rejected with its reason.
            let now = served.hub.now();
            let second = served
                .hub
                .access_apply(
                    samples::CIVIL_AFFAIRS,
                    "market.entity-registrations",
                    "再次申请",
                    now,
                    now + time::Duration::days(30),
                )
                .await
                .unwrap()
                .id;
            console.go("/access").await;
            console.click(&format!("[data-reject='{second}']")).await;
            console.confirm(Some("用途不明确")).await;
            console
                .text_with(&format!("[data-application='{second}']"), "已驳回")
                .await;
            let all = served
                .hub
                .access_list_involving(Some(samples::CIVIL_AFFAIRS), None, None, 10)
                .await
                .unwrap();
            let status = |n: u64| {
                all.iter()
                    .find(|a| a.id == n)
                    .map(|a| (a.status.clone(), a.reason.clone()))
            };
            assert_eq!(
                status(id),
                Some(("withdrawn".into(), Some("共享协议到期".into())))
            );
            assert_eq!(
                status(second),
                Some(("rejected".into(), Some("用途不明确".into())))
            );
            console.screenshot("access-decided").await;
            console.close().await;
            served
        },
    )
    .await;
}

/// An operator publishes its department's resource through the form, its
/// fields chosen from the payload schema's own properties, then its next
/// version; a bad id is refused next to its field, and another
/// department's operator is offered no update.
#[tokio::test]
async fn a_resource_is_published_and_updated_through_the_form() {
    each_served(
        "http_console_catalogue_publish",
        |_| {},
        |served| async move {
            let test = "a_resource_is_published_and_updated_through_the_form";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            console.sign_in(&tokens.market).await;
            console.go("/catalogue").await;
            console.click("a[href='#/catalogue/new']").await;
            console
                .type_into("#resource-form [name='id']", "hub.registrations")
                .await;
            console
                .type_into("#resource-form [name='name']", "新设市场主体名录")
                .await;
            console
                .wait("#resource-form [name='schema']")
                .await
                .select_by_value("business-registration@1")
                .await
                .unwrap();
            // The schema's own fields, labelled with their titles.
            console.wait("#field-uscc").await;
            let label = console
                .wait("[name='label:uscc']")
                .await
                .prop("value")
                .await
                .unwrap();
            assert_eq!(label.as_deref(), Some("统一社会信用代码"));
            console.click("#resource-submit").await;
            // A reserved id, and no field chosen: both said, each at its place.
            console
                .text_with("[data-error-for='id']", "CATALOGUE_INVALID")
                .await;
            console
                .text_with("[data-error-for='fields']", "至少选择一个")
                .await;
            console.click("#field-uscc").await;
            console.click("#field-entityName").await;
            console
                .type_into("#resource-form [name='id']", "market.registrations")
                .await;
            console
                .type_into("#resource-form [name='tags']", "市场监管，新设登记")
                .await;
            console.click("#resource-submit").await;
            console.text_with("main .notice", "已发布").await;
            let entry = served
                .hub
                .catalogue_show("market.registrations")
                .await
                .unwrap();
            assert_eq!(entry.provider, samples::MARKET);
            let mut names: Vec<&str> = entry.fields.iter().map(|f| f.name.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, ["entityName", "uscc"]);
            assert_eq!(entry.tags, ["市场监管", "新设登记"]);

            // Its next version: shared unconditionally now.
            console
                .click("a[href='#/catalogue/market.registrations/edit']")
                .await;
            console
                .wait("#resource-form [name='sharingType']")
                .await
                .select_by_value("unconditional")
                .await
                .unwrap();
            console.wait("#field-uscc:checked").await;
            console.click("#resource-submit").await;
            console.text_with("main .notice", "第 2 版").await;
            console.text_with("#sharing", "无条件共享").await;
            let entry = served
                .hub
                .catalogue_show("market.registrations")
                .await
                .unwrap();
            assert_eq!(
                (entry.version, entry.sharing_type.as_str()),
                (2, "unconditional")
            );
            console.screenshot("resource-updated").await;
            console.sign_out().await;

            console.sign_in(&tokens.civil).await;
            console.go("/catalogue/market.registrations").await;
            console.text_with("#sharing", "无条件共享").await;
            assert!(
                !console.has("a[href$='/edit']").await,
                "another department may not update"
            );
            console.close().await;
            served
        },
    )
    .await;
}
